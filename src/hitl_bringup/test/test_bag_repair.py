"""A killed bag is made whole by repair: every message up to the last flush period is recovered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hitl_bringup.bag import BagError, BagWriter, WriterOptions, file_is_whole, read_metadata, repair_bag
from hitl_bringup.bag_cli import main as bag_cli
from hitl_core.bag_reader import McapScan, read_messages
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.highlevel import AnyReader

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent("""
    import sys, time
    from hitl_bringup.bag import BagWriter, WriterOptions
    w = BagWriter(sys.argv[1], WriterOptions(chunk_size=64 * 1024, flush_period_s=0.25, split_duration_s=1.0))
    w.add_topic("/robot_0/control_state", "hitl_msgs/msg/ControlState")
    print("ready", flush=True)
    i = 0
    while True:  # 100 Hz until killed
        w.write_message("/robot_0/control_state", {"source": i % 3, "step": i, "uncertainty": i * 0.5},
                        time.time_ns())
        i += 1
        time.sleep(0.01)
""")


def _env() -> dict:
    paths = [str(ROOT / "src" / p) for p in ("hitl_bringup", "hitl_policy")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]))


def test_sigkill_at_100hz_loses_at_most_the_last_second(tmp_path, capsys):
    bag = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(bag)], stdout=subprocess.PIPE, env=_env())
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(2.6)
    killed_at = time.time_ns()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    files = sorted(bag.glob("*.mcap"))
    assert len(files) >= 3 and not file_is_whole(files[-1])   # split every second; the last one is open

    report = repair_bag(bag)
    assert [f.was_whole for f in report.files] == [True] * (len(files) - 1) + [False]
    assert report.files[-1].broken_copy.exists()
    msgs = list(read_messages(bag))
    steps = [m.step for _t, m, _lt in msgs]
    assert steps == list(range(len(steps)))                   # nothing missing before the break
    assert all(m.source == m.step % 3 and m.uncertainty == m.step * 0.5 for _t, m, _lt in msgs)
    assert msgs[-1][2] >= killed_at - 1_000_000_000            # at most the last second lost
    # whole again: seeking readers and rosbags accept every file, metadata agrees with the files
    for f in sorted(bag.glob("*.mcap")):
        assert file_is_whole(f)
        with open(f, "rb") as fh:
            assert make_reader(fh).get_summary() is not None
    info = read_metadata(bag)
    assert info["message_count"] == len(steps) == report.per_topic()["/robot_0/control_state"]
    with AnyReader([bag]) as reader:
        assert sum(c.msgcount for c in reader.connections) == len(steps)

    assert bag_cli(["info", str(bag)]) == 0
    out = capsys.readouterr().out
    assert f"messages: {len(steps)}" in out and "NEEDS REPAIR" not in out


def test_repair_recovers_a_prefix_at_any_truncation_point(tmp_path):
    src = tmp_path / "src"
    with BagWriter(src, WriterOptions(chunk_size=512, fsync=False)) as w:
        w.add_topic("/s", "hitl_msgs/msg/ControlState")
        for i in range(200):
            w.write_message("/s", {"step": i}, i)
    data = (src / "src_0.mcap").read_bytes()
    seen = set()
    for cut in (0, 5, 40, len(data) // 7, len(data) // 3, len(data) // 2 + 3, len(data) - 40, len(data) - 1):
        bag = tmp_path / f"cut{cut}"
        bag.mkdir()
        (bag / "cut_0.mcap").write_bytes(data[:cut])
        report = repair_bag(bag, keep_broken=False)
        steps = [m.step for _t, m, _lt in read_messages(bag)]
        assert steps == list(range(len(steps))) and report.per_topic().get("/s", 0) == len(steps)
        assert file_is_whole(bag / "cut_0.mcap") and not (bag / "cut_0.mcap.broken").exists()
        seen.add(len(steps))
    assert 0 in seen and len(seen) >= 4   # later cuts keep more complete chunks


def test_repair_cli_reports_counts_and_refuses_foreign_files(tmp_path, capsys):
    bag = tmp_path / "b"
    w = BagWriter(bag, WriterOptions(chunk_size=256, fsync=False))
    w.add_topic("/a", "hitl_msgs/msg/ControlState")
    w.add_topic("/b", "hitl_msgs/msg/HelpRequest")
    for i in range(50):
        w.write_message("/a", {"step": i}, i)
        w.write_message("/b", {"robot_id": "r"}, i)
    w.flush()
    (bag / "metadata.yaml").unlink()       # killed before any metadata was written
    assert bag_cli(["repair", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "/a: 50" in out and "/b: 50" in out and "rewritten" in out
    assert read_metadata(bag)["message_count"] == 100

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x_0.mcap").write_text("not mcap at all")
    with pytest.raises(BagError, match=r"x_0.mcap.*not an MCAP"):
        repair_bag(foreign)
    assert bag_cli(["repair", str(foreign)]) == 2
    assert "x_0.mcap" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert bag_cli(["info", str(empty)]) == 2
    assert "no metadata.yaml and no .mcap files" in capsys.readouterr().err


def test_a_corrupt_chunk_is_skipped_and_the_rest_is_read(tmp_path):
    bag = tmp_path / "c"
    with BagWriter(bag, WriterOptions(chunk_size=400, fsync=False)) as w:
        w.add_topic("/s", "hitl_msgs/msg/ControlState")
        for i in range(100):
            w.write_message("/s", {"step": i, "reason_text": "x" * 20}, i)
    path = bag / "c_0.mcap"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF           # one flipped byte inside some chunk
    path.write_bytes(bytes(data))
    scan = McapScan(path)
    decode = None
    steps = []
    for _c, schema, m in scan.messages():
        decode = decode or DecoderFactory().decoder_for("cdr", schema)
        steps.append(decode(m.data).step)
    assert scan.bad_chunks == 1 and scan.complete and "unreadable" in scan.error
    missing = sorted(set(range(100)) - set(steps))
    assert 0 < len(missing) < 20 and missing == list(range(missing[0], missing[-1] + 1))  # one chunk
    assert steps == sorted(steps)
