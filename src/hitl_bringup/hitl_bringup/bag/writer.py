"""Crash-tolerant rosbag2 MCAP writer (no rclpy).

Why not rosbags' writer: it buffers a fixed 1 MiB chunk and never flushes, so a SIGKILL at 100 Hz
lost every message. Here a chunk is closed when it reaches ``chunk_size`` bytes *or* when
``flush_period_s`` has passed (``poll()`` is called from a timer even when nothing arrives), and
each close is followed by a flush (+ fsync), so a kill loses at most the last flush period.
Files split by size and/or duration; ``metadata.yaml`` is rewritten at every split and at close.
A killed bag is made whole by :func:`hitl_bringup.bag.repair.repair_bag`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter

from hitl_bringup.bag.metadata import BagError, FileStats, TopicInfo, qos_yaml, write_metadata
from hitl_bringup.bag.msgdefs import canonical_type, full_definition

PROFILE = "ros2"
LIBRARY = "hitl_bringup.bag"
COMPRESSION = {"none": CompressionType.NONE, "": CompressionType.NONE, "lz4": CompressionType.LZ4,
               "zstd": CompressionType.ZSTD}


@dataclass
class WriterOptions:
    chunk_size: int = 64 * 1024        # bytes of (uncompressed) messages before a chunk is closed
    flush_period_s: float = 0.5        # close the open chunk + flush + fsync at least this often
    split_size_mb: float = 0.0         # start a new file past this size (0: never)
    split_duration_s: float = 0.0      # start a new file after this much log time (0: never)
    compression: str = "none"          # none | lz4 | zstd (zstd needs the zstandard package)
    fsync: bool = True

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSION:
            raise ValueError(f"compression {self.compression!r}: expected one of none, lz4, zstd")
        if self.chunk_size <= 0 or self.flush_period_s <= 0:
            raise ValueError("chunk_size and flush_period_s must be > 0")


def mcap_file_name(bag_dir: Path, index: int) -> str:
    return f"{bag_dir.name}_{index}.mcap"


def open_mcap(stream: IO[bytes], options: WriterOptions) -> McapWriter:
    writer = McapWriter(stream, chunk_size=options.chunk_size, compression=COMPRESSION[options.compression])
    writer.start(profile=PROFILE, library=LIBRARY)
    return writer


class BagWriter:
    """Writes serialized (CDR) messages into ``<bag_dir>/<name>_<i>.mcap`` + ``metadata.yaml``."""

    def __init__(self, bag_dir: str | Path, options: WriterOptions | None = None,
                 definitions: Callable[[str], str] = full_definition,
                 clock: Callable[[], float] = time.monotonic,
                 custom_data: dict[str, str] | None = None) -> None:
        self.bag_dir = Path(bag_dir)
        self.custom_data = {str(k): str(v) for k, v in (custom_data or {}).items()}
        self.options = options or WriterOptions()
        if self.bag_dir.exists() and any(self.bag_dir.iterdir()):
            raise BagError(f"{self.bag_dir}: bag directory exists and is not empty")
        self.bag_dir.mkdir(parents=True, exist_ok=True)
        self._definitions = definitions
        self._clock = clock
        self.topics: dict[str, TopicInfo] = {}
        self._schema_text: dict[str, str] = {}
        self.files: list[FileStats] = []
        self._stream: IO[bytes] | None = None
        self._mcap: McapWriter | None = None
        self._channels: dict[str, int] = {}
        self._sequence: dict[str, int] = {}
        self._last_flush = clock()
        self._dirty = False
        self._encoders: dict[str, Callable[[Any], bytes]] = {}
        self.closed = False
        self._open_file()
        self.write_metadata()

    # ------------------------------------------------------------------ topics
    def add_topic(self, name: str, type_name: str, offered_qos_profiles: list[dict] | None = None,
                  type_description_hash: str = "") -> None:
        """Register a topic (once); its schema text is resolved now so a bad type fails early."""
        if name in self.topics:
            return
        tname = canonical_type(type_name)
        if tname not in self._schema_text:
            self._schema_text[tname] = self._definitions(tname)
        qos = list(offered_qos_profiles or [])
        self.topics[name] = TopicInfo(name, tname, "cdr", qos, type_description_hash)
        self._register_channel(name)

    def _register_channel(self, name: str) -> None:
        assert self._mcap is not None
        info = self.topics[name]
        schema_id = self._schema_ids.get(info.type)
        if schema_id is None:
            text = self._schema_text[info.type].encode()
            schema_id = self._mcap.register_schema(info.type, "ros2msg", text)
            self._schema_ids[info.type] = schema_id
        meta = {"offered_qos_profiles": qos_yaml(info.offered_qos_profiles)}
        if info.type_description_hash:
            meta["topic_type_hash"] = info.type_description_hash
        self._channels[name] = self._mcap.register_channel(name, "cdr", schema_id, meta)

    # ------------------------------------------------------------------- files
    def _open_file(self) -> None:
        rel = mcap_file_name(self.bag_dir, len(self.files))
        self._stream = open(self.bag_dir / rel, "wb")  # noqa: SIM115 (closed in _close_file)
        self._mcap = open_mcap(self._stream, self.options)
        self._schema_ids: dict[str, int] = {}
        self._channels = {}
        self.files.append(FileStats(rel))
        for name in self.topics:
            self._register_channel(name)
        self._sync()

    def _close_file(self) -> None:
        assert self._mcap is not None and self._stream is not None
        self._mcap.finish()
        self._stream.flush()
        if self.options.fsync:
            os.fsync(self._stream.fileno())
        self._stream.close()
        self._mcap = None
        self._stream = None

    def _split_due(self, log_time_ns: int) -> bool:
        cur = self.files[-1]
        if not cur.message_count:
            return False
        o = self.options
        elapsed_ns = log_time_ns - (cur.start_ns if cur.start_ns is not None else log_time_ns)
        if o.split_duration_s > 0 and elapsed_ns >= o.split_duration_s * 1e9:
            return True
        if o.split_size_mb > 0 and self._stream is not None:
            return self._stream.tell() >= o.split_size_mb * 2**20
        return False

    def split(self) -> None:
        """Close the current file and continue in the next one (metadata.yaml is updated)."""
        self._close_file()
        self._open_file()
        self.write_metadata()

    # ---------------------------------------------------------------- messages
    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        """Append one serialized message (the hot path: no decoding, no re-serialization)."""
        if self.closed:
            raise BagError(f"{self.bag_dir}: write after close")
        if topic not in self.topics:
            raise BagError(f"{self.bag_dir}: topic {topic!r} was not added (add_topic first)")
        if self._split_due(log_time_ns):
            self.split()
        assert self._mcap is not None
        seq = self._sequence.get(topic, 0)
        self._sequence[topic] = seq + 1
        self._mcap.add_message(self._channels[topic], log_time=int(log_time_ns), data=bytes(data),
                               publish_time=int(log_time_ns if publish_time_ns is None else publish_time_ns),
                               sequence=seq & 0xFFFFFFFF)
        self.files[-1].add(topic, int(log_time_ns))
        self._dirty = True
        self.poll()

    def write_message(self, topic: str, message: Any, log_time_ns: int,
                      publish_time_ns: int | None = None) -> None:
        """Serialize a dict/object with the topic's schema (mcap_ros2) and write it (tests, tools)."""
        from mcap_ros2._dynamic import serialize_dynamic

        tname = self.topics[topic].type
        if tname not in self._encoders:
            self._encoders[tname] = serialize_dynamic(tname, self._schema_text[tname])[tname]
        self.write(topic, self._encoders[tname](message), log_time_ns, publish_time_ns)

    # ------------------------------------------------------------------ flushes
    def poll(self) -> bool:
        """Flush when the flush period has passed; call this from a timer. True if it flushed."""
        if self._dirty and self._clock() - self._last_flush >= self.options.flush_period_s:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Close the open chunk and push everything to the disk."""
        if self._mcap is None:
            return
        self._mcap.flush()
        self._sync()

    def _sync(self) -> None:
        assert self._stream is not None
        self._stream.flush()
        if self.options.fsync:
            os.fsync(self._stream.fileno())
        self._last_flush = self._clock()
        self._dirty = False

    # -------------------------------------------------------------------- close
    @property
    def message_count(self) -> int:
        return sum(f.message_count for f in self.files)

    @property
    def current_path(self) -> Path:
        return self.bag_dir / self.files[-1].path

    def write_metadata(self) -> Path:
        topics = list(self.topics.values())
        return write_metadata(self.bag_dir, topics, self.files, custom_data=self.custom_data)

    def close(self) -> Path:
        """Finish the open file (summary, footer) and write metadata.yaml; idempotent."""
        if not self.closed:
            self._close_file()
            self.closed = True
            return self.write_metadata()
        return self.bag_dir / "metadata.yaml"

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
