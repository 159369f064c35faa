"""Make a killed rosbag2 MCAP bag whole again (like ``ros2 bag reindex`` / ``mcap recover``).

Every .mcap file without a valid footer is read up to its broken end (complete chunks only, CRCs
checked) and rewritten as a well-formed file via temp + rename; the original is kept next to it as
``<file>.mcap.broken`` unless ``keep_broken=False``. Then ``metadata.yaml`` is rebuilt from the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hitl_core.bag_reader import MCAP_MAGIC, McapScan, bag_files
from mcap.reader import make_reader
from mcap.records import Channel, Schema

from hitl_bringup.bag.metadata import BagError, FileStats, TopicInfo, read_metadata, write_metadata
from hitl_bringup.bag.writer import WriterOptions, open_mcap

FOOTER_LEN = 37  # opcode(1) + length(8) + summary_start(8) + summary_offset_start(8) + crc(4) + magic(8)


@dataclass
class FileRepair:
    path: Path
    was_whole: bool
    counts: dict[str, int] = field(default_factory=dict)   # messages per topic in the (new) file
    error: str | None = None                                # where/why the old file broke
    broken_copy: Path | None = None

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())


@dataclass
class RepairReport:
    bag_dir: Path
    files: list[FileRepair]
    metadata: Path | None

    @property
    def repaired(self) -> list[FileRepair]:
        return [f for f in self.files if not f.was_whole]

    def per_topic(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for t, n in f.counts.items():
                out[t] = out.get(t, 0) + n
        return out


def file_is_whole(path: Path) -> bool:
    """True when the file starts with the MCAP magic and ends with a footer record + magic."""
    size = path.stat().st_size
    if size < 8 + FOOTER_LEN + 8:
        return False
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(-FOOTER_LEN, os.SEEK_END)
        tail = f.read(FOOTER_LEN)
    return head == MCAP_MAGIC and tail[-8:] == MCAP_MAGIC and tail[:9] == b"\x02\x14" + b"\x00" * 7


def _topic_info(ch: Channel, schema: Schema | None) -> TopicInfo:
    qos_text = ch.metadata.get("offered_qos_profiles", "")
    try:
        qos = yaml.safe_load(qos_text) if qos_text else []
    except yaml.YAMLError:
        qos = []
    return TopicInfo(ch.topic, schema.name if schema else "", ch.message_encoding,
                     qos if isinstance(qos, list) else [], ch.metadata.get("topic_type_hash", ""))


def file_stats(path: Path, bag_dir: Path) -> tuple[FileStats, list[TopicInfo]]:
    """Per-topic counts and time range of a whole file (summary section; scan if it has none)."""
    rel = str(path.relative_to(bag_dir)) if path.is_relative_to(bag_dir) else path.name
    stats = FileStats(rel)
    with open(path, "rb") as f:
        try:
            summary = make_reader(f).get_summary()
        except Exception:  # a summary the seeking reader refuses: fall back to the scan
            summary = None
    if summary is not None and summary.statistics is not None:
        s = summary.statistics
        topics = [_topic_info(ch, summary.schemas.get(ch.schema_id)) for ch in summary.channels.values()]
        for cid, n in s.channel_message_counts.items():
            if n and cid in summary.channels:
                topic = summary.channels[cid].topic
                stats.counts[topic] = stats.counts.get(topic, 0) + n
        if s.message_count:
            stats.start_ns, stats.end_ns = s.message_start_time, s.message_end_time
        return stats, topics
    scan = McapScan(path)
    for ch, _schema, msg in scan.messages():
        stats.add(ch.topic, msg.log_time)
    return stats, [_topic_info(ch, scan.schemas.get(ch.schema_id)) for ch in scan.channels.values()]


def rewrite_file(path: Path, keep_broken: bool = True, options: WriterOptions | None = None) -> FileRepair:
    """Copy every complete message of a broken file into a new well-formed file at the same path."""
    options = options or WriterOptions(chunk_size=1 << 20)
    tmp = path.with_name(path.name + ".tmp")
    scan = McapScan(path)
    rep = FileRepair(path, was_whole=False)
    messages = scan.messages()
    schema_ids: dict[int, int] = {}
    channel_ids: dict[int, int] = {}
    with open(tmp, "wb") as out:
        w = open_mcap(out, options)

        def copy_channel(ch, schema) -> None:
            """Register ``ch`` (and its schema, once) in the new file under new ids."""
            sid = 0
            if schema is not None:
                if schema.id not in schema_ids:
                    schema_ids[schema.id] = w.register_schema(schema.name, schema.encoding, schema.data)
                sid = schema_ids[schema.id]
            channel_ids[ch.id] = w.register_channel(ch.topic, ch.message_encoding, sid, dict(ch.metadata))

        for ch, schema, msg in messages:
            if ch.id not in channel_ids:
                copy_channel(ch, schema)
            w.add_message(channel_ids[ch.id], log_time=msg.log_time, data=msg.data,
                          publish_time=msg.publish_time, sequence=msg.sequence)
            rep.counts[ch.topic] = rep.counts.get(ch.topic, 0) + 1
        # channels that were announced but got no complete message stay known (metadata lists them)
        for ch in scan.channels.values():
            if ch.id not in channel_ids:
                copy_channel(ch, scan.schemas.get(ch.schema_id))
        w.finish()
        out.flush()
        os.fsync(out.fileno())
    rep.error = scan.error
    if keep_broken:
        rep.broken_copy = path.with_name(path.name + ".broken")
        os.replace(path, rep.broken_copy)
    os.replace(tmp, path)
    return rep


def repair_bag(bag_dir: str | Path, keep_broken: bool = True) -> RepairReport:
    """Rewrite every .mcap file of ``bag_dir`` that has no valid footer, then rebuild metadata.yaml."""
    bag_dir = Path(bag_dir)
    if not bag_dir.is_dir():
        raise BagError(f"{bag_dir}: not a bag directory")
    files = bag_files(bag_dir)
    reports: list[FileRepair] = []
    all_stats: list[FileStats] = []
    topics: dict[str, TopicInfo] = {}
    for path in files:
        if file_is_whole(path):
            rep = FileRepair(path, was_whole=True)
        else:
            with open(path, "rb") as f:
                head = f.read(8)
            if not MCAP_MAGIC.startswith(head[:8]):
                raise BagError(f"{path}: not an MCAP file (bad magic): left untouched")
            rep = rewrite_file(path, keep_broken)
        stats, infos = file_stats(path, bag_dir)
        rep.counts = dict(stats.counts)
        for info in infos:
            topics.setdefault(info.name, info)
        reports.append(rep)
        all_stats.append(stats)
    try:
        old = read_metadata(bag_dir) or {}
    except BagError:
        old = {}
    custom = old.get("custom_data") if isinstance(old.get("custom_data"), dict) else None
    meta = write_metadata(bag_dir, list(topics.values()), all_stats, custom_data=custom)
    return RepairReport(bag_dir, reports, meta)
