"""BagWriter: a rosbag2 (v9) MCAP bag that rosbags reads, split files, time-based flushes."""

from __future__ import annotations

import shutil

import pytest
import yaml
from hitl_bringup.bag import BagError, BagWriter, WriterOptions, file_is_whole
from hitl_core.bag_reader import McapScan, iter_bag
from rosbags.highlevel import AnyReader


def _state(i: int, source: int = 0) -> dict:
    return {"header": {"stamp": {"sec": i, "nanosec": 0}, "frame_id": "base"}, "source": source,
            "robot_id": "robot_0", "operator_id": "op" if source == 1 else "", "episode": 1, "step": i}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_clean_bag_is_read_by_rosbags_with_metadata(tmp_path):
    bag = tmp_path / "run"
    with BagWriter(bag, WriterOptions(fsync=False), custom_data={"task": "lift"}) as w:
        w.add_topic("/robot_0/control_state", "hitl_msgs/msg/ControlState")
        w.add_topic("/robot_0/ee_pose", "geometry_msgs/msg/PoseStamped")
        w.add_topic("/robot_0/teleop", "hitl_msgs/msg/TeleopCommand")  # no messages: still listed
        for i in range(20):
            w.write_message("/robot_0/control_state", _state(i, i % 2), 10**9 + i * 10**8)
        w.write_message("/robot_0/ee_pose", {"pose": {"position": {"x": 0.5}}}, 10**9 + 5)
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["run_0.mcap"] and info["message_count"] == 21
    assert info["starting_time"]["nanoseconds_since_epoch"] == 10**9
    assert info["duration"]["nanoseconds"] == 19 * 10**8
    assert info["custom_data"] == {"task": "lift"}
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    assert topics["/robot_0/control_state"]["message_count"] == 20
    assert topics["/robot_0/teleop"]["message_count"] == 0
    assert topics["/robot_0/ee_pose"]["topic_metadata"]["type"] == "geometry_msgs/msg/PoseStamped"
    assert file_is_whole(bag / "run_0.mcap")
    with AnyReader([bag]) as reader:
        assert {c.topic: c.msgcount for c in reader.connections} == {
            "/robot_0/control_state": 20, "/robot_0/ee_pose": 1, "/robot_0/teleop": 0}
        states = [reader.deserialize(raw, c.msgtype) for c, _t, raw in reader.messages()
                  if c.topic.endswith("control_state")]
    assert [s.step for s in states] == list(range(20))
    assert [s.source for s in states] == [i % 2 for i in range(20)]
    assert [s.operator_id for s in states][:2] == ["", "op"]


def test_split_by_duration_and_size(tmp_path):
    bag = tmp_path / "dur"
    with BagWriter(bag, WriterOptions(split_duration_s=1.0, fsync=False)) as w:
        w.add_topic("/s", "hitl_msgs/msg/ControlState")
        for i in range(35):  # 3.5 s of log time at 10 Hz
            w.write_message("/s", _state(i), 10**9 + i * 10**8)
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["relative_file_paths"] == [f"dur_{k}.mcap" for k in range(4)]
    assert [f["message_count"] for f in info["files"]] == [10, 10, 10, 5]
    assert all(file_is_whole(bag / f) for f in info["relative_file_paths"])
    assert [m.log_time for m in iter_bag(bag)] == [10**9 + i * 10**8 for i in range(35)]

    big = tmp_path / "size"
    with BagWriter(big, WriterOptions(split_size_mb=0.01, chunk_size=1024, fsync=False)) as w:
        w.add_topic("/s", "hitl_msgs/msg/ControlState")
        for i in range(400):
            w.write_message("/s", _state(i), i)
    files = sorted(big.glob("*.mcap"))
    assert len(files) > 2
    assert all(f.stat().st_size < 0.01 * 2**20 + 8192 for f in files)
    with AnyReader([big]) as reader:
        assert sum(c.msgcount for c in reader.connections) == 400


def test_open_chunk_reaches_the_disk_after_the_flush_period(tmp_path):
    clock = FakeClock()
    bag = tmp_path / "f"
    w = BagWriter(bag, WriterOptions(chunk_size=1 << 20, flush_period_s=0.5, fsync=False), clock=clock)
    w.add_topic("/s", "hitl_msgs/msg/ControlState")
    for i in range(5):
        w.write_message("/s", _state(i), i)

    def on_disk(name: str) -> int:
        snap = tmp_path / name
        shutil.copytree(bag, snap)  # what a SIGKILL would leave behind
        return sum(1 for _ in McapScan(snap / "f_0.mcap").messages())

    assert on_disk("before") == 0          # big chunk still open, period not over
    clock.t = 0.4
    assert not w.poll() and on_disk("early") == 0
    clock.t = 0.6
    assert w.poll() and on_disk("after") == 5   # closed + flushed by time, not by size
    w.close()


def test_bad_use_is_refused(tmp_path):
    w = BagWriter(tmp_path / "a", WriterOptions(fsync=False))
    with pytest.raises(BagError, match="not added"):
        w.write("/nope", b"\x00\x01\x00\x00", 0)
    w.close()
    with pytest.raises(BagError, match="not empty"):
        BagWriter(tmp_path / "a")
    with pytest.raises(ValueError, match="compression"):
        WriterOptions(compression="brotli")
