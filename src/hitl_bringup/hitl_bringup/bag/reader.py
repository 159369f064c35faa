"""Reading rosbag2 MCAP bags, killed ones included (the scan lives in hitl_policy.bag_dataset)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hitl_policy.bag_dataset import BagError, BagMessage, McapScan, MessageDecoder, bag_files, iter_bag

__all__ = ["BagError", "BagMessage", "McapScan", "MessageDecoder", "bag_files", "iter_bag", "read_messages"]


def read_messages(path: str | Path, topics: set[str] | None = None) -> Iterator[tuple[str, Any, int]]:
    """(topic, decoded message, log_time_ns) for every complete message of a bag directory or file."""
    decoder = MessageDecoder()
    for m in iter_bag(path, topics):
        yield m.topic, decoder.decode(m), m.log_time
