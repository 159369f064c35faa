"""recorder_node over DDS: SIGKILL loses at most the last second (after repair); SIGINT closes cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hitl_core.ros.testing import RosGraph, ros_imports

with ros_imports():
    from geometry_msgs.msg import Pose
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from hitl_msgs.msg import ArmCommand, ControlState, Observation

from hitl_bringup.bag import file_is_whole, read_metadata, repair_bag
from hitl_bringup.recorder_node import GRAPH_TOPICS
from hitl_core.bag_dataset import bags_to_dataset
from hitl_core.bag_reader import read_messages
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT
from hitl_core.recorder_report import REPORT_TOPIC, parse_report

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[3]


def _source(i: int) -> int:
    return (i // 15) % 3          # runs of policy / human / paused


def _start(bag: Path, ns: str) -> subprocess.Popen:
    src = [str(ROOT / "src" / p) for p in ("hitl_bringup", "hitl_core")]
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([*src, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "hitl_bringup.recorder_node", "--ros-args", "-r", f"__ns:={ns}",
           "-p", f"output:={bag}", "-p", "append_timestamp:=false", "-p", "flush_period_s:=0.25",
           "-p", "task:=lift"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Publisher:
    def __init__(self, domain: int, ns: str) -> None:
        self.graph = RosGraph("recorder_test", ns, domain=domain)
        self.node = self.graph.node
        kinds = (("observation", Observation), ("arm_command", ArmCommand), ("control_state", ControlState))
        self.pubs = {name: self.node.create_publisher(t, name, 10) for name, t in kinds}
        self.sent: list[int] = []   # wall time (ns) each step was published

    def wait_for_recorder(self, proc: subprocess.Popen, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while any(p.get_subscription_count() == 0 for p in self.pubs.values()):
            assert proc.poll() is None, f"recorder exited early:\n{proc.stdout.read()}"
            assert time.monotonic() < deadline, "recorder did not subscribe"
            time.sleep(0.05)
        # The publishers have seen the recorder's readers; the readers may not have seen the writers yet
        # (discovery is two-way): on a loaded machine the first ~0.3 s of messages were dropped. Settle.
        time.sleep(1.0)

    def step(self, i: int) -> None:
        obs = Observation()
        obs.header.stamp.sec, obs.header.stamp.nanosec = 1000 + i // 100, (i % 100) * 10_000_000
        obs.robot_id, obs.task, obs.episode, obs.step = "robot_t", "lift", 1, i
        obs.names, obs.data = ["a", "b"], [float(i), 0.5 * i]
        pose = Pose()
        pose.position.x, pose.orientation.w = 0.01 * i, 1.0
        obs.ee_poses, obs.gripper = [pose], [0.0]
        cmd = ArmCommand()
        cmd.source, cmd.targets, cmd.gripper = _source(i), [pose], [0.5]
        st = ControlState()
        st.source, st.step, st.episode = _source(i), i, 1
        st.operator_id = "op_1" if _source(i) == 1 else ""
        self.sent.append(time.time_ns())
        self.pubs["observation"].publish(obs)
        self.pubs["arm_command"].publish(cmd)
        self.pubs["control_state"].publish(st)

    def close(self) -> None:
        self.graph.close()


def _check_states(bag: Path, n: int | None = None) -> list:
    states = [m for topic, m, _t in read_messages(bag) if topic.endswith("/control_state")]
    steps = [m.step for m in states]
    assert steps == list(range(len(steps))) if n is None else steps == list(range(n))
    for m in states:   # the bag's labels are the ControlState stream that was sent
        assert m.source == _source(m.step) and m.operator_id == ("op_1" if _source(m.step) == 1 else "")
    return states


def test_sigkill_then_repair_recovers_all_but_the_last_second(tmp_path, ros_domain):
    ns, bag = f"/rk{os.getpid()}", tmp_path / "killed"
    proc = _start(bag, ns)
    pub = Publisher(ros_domain, ns)
    try:
        pub.wait_for_recorder(proc)
        for i in range(250):            # 100 Hz for 2.5 s
            pub.step(i)
            time.sleep(0.01)
        killed_at = time.time_ns()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
    assert not file_is_whole(bag / "killed_0.mcap")
    report = repair_bag(bag)
    assert file_is_whole(bag / "killed_0.mcap") and report.files[0].broken_copy.exists()
    states = _check_states(bag)
    must_have = sum(1 for t in pub.sent if t < killed_at - 1_000_000_000)
    assert len(states) >= must_have > 100
    obs = [m for topic, m, _t in read_messages(bag) if topic.endswith("/observation")]
    assert len(obs) >= must_have and all(list(m.data) == [m.step, 0.5 * m.step] for m in obs)
    assert report.per_topic()[f"{ns}/control_state"] == len(states)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_clean_shutdown_holds_every_topic_and_labels_agree(tmp_path, ros_domain, stop):
    ns, bag = f"/rc{os.getpid()}", tmp_path / "clean"
    proc = _start(bag, ns)
    pub = Publisher(ros_domain, ns)
    reports: list = []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pub.node.create_subscription(String, REPORT_TOPIC, lambda m: reports.append(parse_report(m.data)), latched)
    n = 60
    try:
        pub.wait_for_recorder(proc)
        # its report (what sim_arm's wait_for_recorder also reads): each reader has matched our publisher
        names = [pub.node.resolve_topic_name(t) for t in pub.pubs]
        pub.graph.spin_until(lambda: reports and all(reports[-1].matched.get(t) == 1 for t in names), 20)
        assert reports[-1].matched.get(f"{ns}/episode_event") == 0  # recorded, nobody publishes it
        for i in range(n):              # 20 Hz: labels align with observations by receive time
            pub.step(i)
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=20)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-2000:]
    assert str(bag.resolve()) in out and "closed" in out
    assert file_is_whole(bag / "clean_0.mcap")
    info = read_metadata(bag)
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    expected = {(n if n.startswith("/") else f"{ns}/{n}") for n in GRAPH_TOPICS}
    assert set(topics) == expected                         # every topic of the graph
    for leaf in ("observation", "arm_command", "control_state"):
        assert topics[f"{ns}/{leaf}"]["message_count"] == n
    assert info["message_count"] == 3 * n and info["custom_data"]["task"] == "lift"
    _check_states(bag, n)
    ds = bags_to_dataset(bag, robot_namespace=ns)
    label = {0: SOURCE_ROBOT, 1: SOURCE_HUMAN, 2: SOURCE_PAUSED}
    assert list(ds.source) == [label[_source(i)] for i in range(n)]
    assert ds.meta["operator_ids"] == ["op_1"]


def test_a_second_graphs_publishers_are_noted_in_the_bag_metadata(tmp_path, ros_domain):
    """Two graphs on one domain and namespace: the bag mixes their messages; metadata.yaml says so."""
    from hitl_bringup.recorder_node import foreign_publishers_text

    assert foreign_publishers_text({"/r/arm_command": ["/r/arbiter"], "/r/observation": ["/r/sim_arm"]}) == ""
    ns = "/rec_foreign"
    bag = tmp_path / "bag"
    proc = _start(bag, ns)
    pub = Publisher(ros_domain, ns)
    other_node = pub.graph.create_node("arbiter", namespace=ns)  # a second graph's arbiter
    second = other_node.create_publisher(ControlState, "control_state", 10)
    try:
        pub.wait_for_recorder(proc)
        for i in range(60):  # 3 s: the recorder looks at the graph once a second
            pub.step(i)
            second.publish(ControlState())
            time.sleep(0.05)
    finally:
        pub.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    note = read_metadata(bag)["custom_data"].get("foreign_publishers", "")
    assert f"{ns}/control_state: {ns}/arbiter, {ns}/recorder_test" in note, (note, out[-2000:])
    assert "foreign publishers" in out
