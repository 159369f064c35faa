"""rosbag2 ``metadata.yaml`` (format version 9) for an MCAP bag directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hitl_core.bag_reader import BagError

METADATA_FILE = "metadata.yaml"
ROSBAG2_VERSION = 9
_INFINITE = {"sec": 9223372036, "nsec": 854775807}


__all__ = ["BagError", "FileStats", "TopicInfo", "build_metadata", "qos_dict", "read_metadata",
           "write_metadata"]


@dataclass
class TopicInfo:
    name: str
    type: str                                   # pkg/msg/Type
    serialization_format: str = "cdr"
    offered_qos_profiles: list[dict] = field(default_factory=list)
    type_description_hash: str = ""


@dataclass
class FileStats:
    path: str                                   # relative to the bag directory
    counts: dict[str, int] = field(default_factory=dict)   # topic -> messages
    start_ns: int | None = None
    end_ns: int | None = None

    def add(self, topic: str, t_ns: int) -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self.start_ns = t_ns if self.start_ns is None else min(self.start_ns, t_ns)
        self.end_ns = t_ns if self.end_ns is None else max(self.end_ns, t_ns)

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())


def qos_dict(reliability: str = "reliable", durability: str = "volatile", depth: int = 10,
             history: str = "keep_last") -> dict:
    """One offered QoS profile in rosbag2 v9 form."""
    return {
        "history": history, "depth": int(depth), "reliability": reliability, "durability": durability,
        "deadline": dict(_INFINITE), "lifespan": dict(_INFINITE), "liveliness": "automatic",
        "liveliness_lease_duration": dict(_INFINITE), "avoid_ros_namespace_conventions": False,
    }


def qos_yaml(profiles: list[dict]) -> str:
    """The MCAP channel metadata value rosbag2 stores under 'offered_qos_profiles'."""
    return yaml.safe_dump(profiles, default_flow_style=False, sort_keys=False).strip() if profiles else ""


def build_metadata(topics: list[TopicInfo], files: list[FileStats], ros_distro: str = "kilted",
                   custom_data: dict[str, str] | None = None) -> dict:
    starts = [f.start_ns for f in files if f.start_ns is not None]
    ends = [f.end_ns for f in files if f.end_ns is not None]
    start = min(starts) if starts else 0
    duration = (max(ends) - start) if ends else 0
    totals: dict[str, int] = {}
    for f in files:
        for topic, n in f.counts.items():
            totals[topic] = totals.get(topic, 0) + n
    info = {
        "version": ROSBAG2_VERSION,
        "storage_identifier": "mcap",
        "duration": {"nanoseconds": int(duration)},
        "starting_time": {"nanoseconds_since_epoch": int(start)},
        "message_count": int(sum(totals.values())),
        "topics_with_message_count": [
            {
                "topic_metadata": {
                    "name": t.name, "type": t.type, "serialization_format": t.serialization_format,
                    "offered_qos_profiles": t.offered_qos_profiles,
                    "type_description_hash": t.type_description_hash,
                },
                "message_count": int(totals.get(t.name, 0)),
            }
            for t in topics
        ],
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [f.path for f in files],
        "files": [
            {
                "path": f.path,
                "starting_time": {"nanoseconds_since_epoch": int(f.start_ns or 0)},
                "duration": {"nanoseconds": int((f.end_ns or 0) - (f.start_ns or 0))},
                "message_count": f.message_count,
            }
            for f in files
        ],
        "custom_data": custom_data or None,
        "ros_distro": ros_distro,
    }
    return {"rosbag2_bagfile_information": info}


def write_metadata(bag_dir: str | Path, topics: list[TopicInfo], files: list[FileStats], **kw) -> Path:
    """Write metadata.yaml atomically (temp + rename)."""
    path = Path(bag_dir) / METADATA_FILE
    tmp = path.with_suffix(".yaml.tmp")
    meta = build_metadata(topics, files, **kw)
    tmp.write_text(yaml.safe_dump(meta, default_flow_style=False, sort_keys=False))
    tmp.replace(path)
    return path


def read_metadata(bag_dir: str | Path) -> dict | None:
    """The rosbag2_bagfile_information mapping, or None when the bag has no metadata.yaml."""
    path = Path(bag_dir) / METADATA_FILE
    if not path.exists():
        return None
    try:
        raw = yaml.safe_load(path.read_text())
        return dict(raw["rosbag2_bagfile_information"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise BagError(f"{path}: not a rosbag2 metadata file ({type(exc).__name__}: {exc})") from exc
