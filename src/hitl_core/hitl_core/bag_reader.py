"""Reading rosbag2 MCAP bags, killed recordings included (pure: mcap + mcap_ros2, no rclpy).

Every complete chunk before the broken end of a file is read (the same scan ``hitl_bag repair`` uses:
src/hitl_bringup/hitl_bringup/bag/repair.py). Turning the messages into training episodes:
src/hitl_core/hitl_core/bag_dataset.py.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mcap.exceptions import EndOfFile, McapError
from mcap.records import Channel, Chunk, Footer, Header, Message, Schema
from mcap.stream_reader import StreamReader, breakup_chunk

from hitl_core.data import DatasetError

MCAP_MAGIC = b"\x89MCAP0\r\n"


class BagError(DatasetError):
    """A bag directory or MCAP file is missing, corrupt or not a rosbag2 (ros2/cdr) recording."""


def _file_index(path: Path) -> tuple[int, str]:
    m = re.search(r"_(\d+)\.mcap$", path.name)
    return (int(m.group(1)) if m else 1 << 30, path.name)


def bag_files(path: str | Path) -> list[Path]:
    """The .mcap files of a bag directory (metadata.yaml order, then unlisted ones), or [file]."""
    p = Path(path)
    if not p.exists():
        raise BagError(f"{p}: no such bag directory or file")
    if p.is_file():
        return [p]
    listed: list[Path] = []
    meta_path = p / "metadata.yaml"
    if meta_path.exists():
        try:
            info = yaml.safe_load(meta_path.read_text())["rosbag2_bagfile_information"]
            rel = list(info.get("relative_file_paths") or [])
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise BagError(f"{meta_path}: not a rosbag2 metadata file ({type(exc).__name__}: {exc})") from exc
        if str(info.get("storage_identifier", "mcap")) != "mcap":
            raise BagError(f"{meta_path}: storage {info.get('storage_identifier')!r} is not mcap")
        listed = [p / Path(r).name for r in rel if (p / Path(r).name).exists()]
    extra = sorted((f for f in p.glob("*.mcap") if f not in listed), key=_file_index)
    files = listed + extra
    if not files:
        raise BagError(f"{p}: no metadata.yaml and no .mcap files: not a rosbag2 MCAP bag")
    return files


@dataclass
class McapScan:
    """Sequential scan of one MCAP file that stops cleanly at a broken (killed) end."""

    path: Path
    complete: bool = False                   # the footer was reached: the file is whole
    error: str | None = None                 # why the scan stopped early (None: complete)
    profile: str = ""
    library: str = ""
    schemas: dict[int, Schema] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    chunks: int = 0
    bad_chunks: int = 0                      # chunks skipped (CRC mismatch / undecompressable)

    def messages(self) -> Iterator[tuple[Channel, Schema | None, Message]]:
        """Yield (channel, schema, message) for every complete message, in file order."""
        try:
            stream = open(self.path, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise BagError(f"{self.path}: cannot open ({exc.strerror})") from exc
        with stream:
            head = stream.read(8)
            if len(head) < 8 and MCAP_MAGIC.startswith(head):  # killed before the header was out
                self.error = "file ends before the MCAP header"
                return
            if head != MCAP_MAGIC:
                raise BagError(f"{self.path}: not an MCAP file (bad magic)")
            stream.seek(0)
            records = StreamReader(stream, emit_chunks=True, record_size_limit=1 << 31).records
            while True:
                try:
                    rec = next(records)
                except StopIteration:
                    break
                except EndOfFile:
                    self.error = "file ends inside a record (killed while writing)"
                    break
                except (McapError, struct.error, ValueError, EOFError, OSError, RuntimeError) as exc:
                    self.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    break
                inner = [rec]
                if isinstance(rec, Chunk):
                    try:
                        inner = breakup_chunk(rec, validate_crc=True)
                        self.chunks += 1
                    except Exception as exc:  # CRC mismatch, bad compression: skip only this chunk
                        self.bad_chunks += 1
                        self.error = f"chunk at {rec.message_start_time} unreadable ({type(exc).__name__})"
                        continue
                for r in inner:
                    if isinstance(r, Message):
                        ch = self.channels.get(r.channel_id)
                        if ch is None:  # its Channel record was lost with a bad chunk
                            self.error = f"message on unknown channel {r.channel_id} skipped"
                            continue
                        yield ch, self.schemas.get(ch.schema_id), r
                    elif isinstance(r, Schema):
                        self.schemas[r.id] = r
                    elif isinstance(r, Channel):
                        self.channels[r.id] = r
                    elif isinstance(r, Header):
                        self.profile, self.library = r.profile, r.library
                    elif isinstance(r, Footer):
                        self.complete = True
            if not self.complete and self.error is None:
                self.error = "no footer (file ends early)"


@dataclass
class BagMessage:
    topic: str
    type: str
    log_time: int
    publish_time: int
    data: bytes
    file: Path
    schema: Schema | None
    channel: Channel


def iter_bag(path: str | Path, topics: set[str] | None = None,
             scans: list[McapScan] | None = None) -> Iterator[BagMessage]:
    """Every complete message of a bag (dir or file), file by file; truncated files are read to their
    broken end. Pass a list as ``scans`` to get each file's scan (complete / error) afterwards."""
    for f in bag_files(path):
        scan = McapScan(f)
        if scans is not None:
            scans.append(scan)
        for ch, schema, msg in scan.messages():
            if topics is None or ch.topic in topics:
                yield BagMessage(ch.topic, schema.name if schema else "", msg.log_time, msg.publish_time,
                                 msg.data, f, schema, ch)


class MessageDecoder:
    """CDR decoding with the schema text stored in the file (mcap_ros2's dynamic decoder)."""

    def __init__(self) -> None:
        from mcap_ros2.decoder import DecoderFactory

        self._factory = DecoderFactory()
        self._cache: dict[tuple[str, bytes], Any] = {}

    def decode(self, m: BagMessage) -> Any:
        if m.schema is None:
            raise BagError(f"{m.file}: topic {m.topic} has no schema: cannot decode")
        if m.channel.message_encoding != "cdr" or m.schema.encoding != "ros2msg":
            raise BagError(f"{m.file}: topic {m.topic} is {m.channel.message_encoding}/{m.schema.encoding}, "
                           "expected cdr/ros2msg (not a ROS 2 recording)")
        key = (m.schema.name, m.schema.data)
        fn = self._cache.get(key)
        if fn is None:
            try:
                fn = self._factory.decoder_for("cdr", m.schema)
            except Exception as exc:  # mcap_ros2 raises several parser errors
                raise BagError(f"{m.file}: schema {m.schema.name} of topic {m.topic} does not parse: "
                               f"{exc}") from exc
            self._cache[key] = fn
        try:
            return fn(m.data)
        except Exception as exc:  # truncated/garbled CDR: struct.error, IndexError, UnicodeDecodeError...
            raise BagError(f"{m.file}: message on {m.topic} at log time {m.log_time} does not decode as "
                           f"{m.schema.name} ({type(exc).__name__}: {exc})") from exc


def read_messages(path: str | Path, topics: set[str] | None = None) -> Iterator[tuple[str, Any, int]]:
    """(topic, decoded message, log_time_ns) for every complete message of a bag directory or file."""
    decoder = MessageDecoder()
    for m in iter_bag(path, topics):
        yield m.topic, decoder.decode(m), m.log_time
