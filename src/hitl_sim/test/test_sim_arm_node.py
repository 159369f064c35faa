"""sim_arm_node over DDS: observations flow, an ArmCommand moves the arm, reset_episode restarts.

These run the node on the kinematic fixture (backend:=kinematic: fast, exact positions); the MuJoCo
node is tested in test_sim_arm_node_mujoco.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hitl_core.recorder_report import REPORT_TOPIC, encode_report
from hitl_core.ros.testing import RosGraph, ros_imports

with ros_imports():
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from hitl_msgs.msg import ArmCommand, EpisodeEvent, Observation
    from hitl_msgs.srv import ResetEpisode, StartEpisode

from hitl_sim import ros_conversions as rc

pytestmark = pytest.mark.ros
NS = f"/h2sim_{os.getpid()}"


def test_help_exits_without_ros():
    out = subprocess.run(
        [sys.executable, "-m", "hitl_sim.nodes.sim_arm_node", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "max_episode_steps" in out.stdout


def test_conversions_round_trip():
    a = np.array([0.5, -0.1, 0.3, 0.7, 0.4, 0.45, 0.2, 0.25, -2.0, 1.0])
    msg = rc.action_to_arm_command(a, 2, "base")
    assert np.allclose(rc.arm_command_to_action(msg, np.zeros(10), 2), a)
    msg.hold = True
    assert np.allclose(rc.arm_command_to_action(msg, np.ones(10), 2), 1.0)
    msg.hold = False
    with pytest.raises(ValueError, match="targets"):
        rc.arm_command_to_action(msg, np.zeros(5), 1)
    obs = rc.observation_msg(
        ["a", "b"],
        np.array([1.0, 2.0]),
        a.reshape(2, 5),
        robot_id="r",
        task="lift",
        episode=3,
        step=4,
        frame_id="base",
    )
    arr = rc.observation_msg_to_arrays(obs)
    assert arr["names"] == ["a", "b"] and np.allclose(arr["ee"], a.reshape(2, 5)) and arr["step"] == 4


def sim_node_cmd(namespace: str, **params: str) -> list[str]:
    """The command line of a sim_arm_node in ``namespace`` with ROS parameters ``params`` (name:=value)."""
    args = [x for name, value in params.items() for x in ("-p", f"{name}:={value}")]
    return [sys.executable, "-m", "hitl_sim.nodes.sim_arm_node", "--ros-args", *args, "-r", f"__ns:={namespace}"]


@pytest.fixture(scope="module")
def sim_node(ros_graph):
    cmd = sim_node_cmd(NS, task="lift", backend="kinematic", arm="franka", rate_hz="20.0", max_episode_steps="400")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ros_graph.env)
    yield proc
    proc.send_signal(signal.SIGINT)
    try:
        rc_ = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert rc_ == 0, proc.stdout.read()


def test_node_publishes_moves_and_resets(sim_node, ros_graph):
    node = ros_graph.create_node("sim_arm_node_test", namespace=NS)
    obs: list = []
    states: list = []
    events: list = []
    node.create_subscription(Observation, "observation", obs.append, 10)
    node.create_subscription(Observation, "sim/state", states.append, 10)
    node.create_subscription(EpisodeEvent, "episode_event", events.append, 10)
    pub = node.create_publisher(ArmCommand, "arm_command", 10)
    reset = node.create_client(ResetEpisode, "reset_episode")
    start = node.create_client(StartEpisode, "start_episode")

    def spin_until(cond, timeout=20.0):
        return ros_graph.spin_until(cond, timeout)

    assert spin_until(lambda: len(obs) >= 3 and len(states) >= 1), "no observations from sim_arm_node"
    first = rc.observation_msg_to_arrays(obs[-1])
    assert first["task"] == "lift" and len(first["data"]) == 18 and first["names"][:2] == ["x", "y"]
    assert obs[-1].header.frame_id == "fr3_link0"
    assert "obj_type" in rc.observation_msg_to_arrays(states[-1])["names"]
    # no command yet: the arm holds
    ee0 = first["ee"][0].copy()
    n0 = len(obs)
    assert spin_until(lambda: len(obs) >= n0 + 3)
    assert np.allclose(rc.observation_msg_to_arrays(obs[-1])["ee"][0, :3], ee0[:3], atol=1e-9)
    # command 6 cm toward +y: the arm moves there under its speed limit
    target = ee0.copy()
    target[1] += 0.06
    msg = rc.action_to_arm_command(target, 1, "fr3_link0")

    def moved():
        pub.publish(msg)
        return abs(rc.observation_msg_to_arrays(obs[-1])["ee"][0, 1] - target[1]) < 1e-6

    assert spin_until(moved), "arm did not reach the commanded target"
    ep = obs[-1].episode
    fut = reset.call_async(ResetEpisode.Request(hard=True))
    assert spin_until(fut.done)
    assert fut.result().success and fut.result().episode == ep + 1
    assert spin_until(lambda: any(e.event == EpisodeEvent.EVENT_RESET for e in events))
    assert spin_until(lambda: obs[-1].episode == ep + 1)

    def started_after_reset():
        kinds = [e.event for e in events]
        return EpisodeEvent.EVENT_START in kinds[kinds.index(EpisodeEvent.EVENT_RESET) :]

    assert spin_until(started_after_reset)
    after = rc.observation_msg_to_arrays(obs[-1])["ee"][0]
    assert np.allclose(after[:3], ee0[:3], atol=1e-6)  # back at home after the reset
    fut = start.call_async(StartEpisode.Request(variant="nope", seed=-1))
    assert spin_until(fut.done)
    assert not fut.result().success and "variant" in fut.result().message


def test_node_stops_after_its_episodes_and_says_so():
    ns = NS + "_done"
    cmd = sim_node_cmd(ns, task="nav", backend="kinematic", rate_hz="50.0", max_episode_steps="5", episodes="2")
    graph = RosGraph("sim_arm_node_done_test", ns)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=graph.env)
    try:
        events: list = []
        obs: list = []
        graph.node.create_subscription(EpisodeEvent, "episode_event", events.append, 10)
        graph.node.create_subscription(Observation, "observation", obs.append, 10)
        graph.spin_until(lambda: any(e.note == "finished" for e in events), 30)
        finished = [e for e in events if e.note == "finished"]
        assert finished and finished[-1].event == EpisodeEvent.EVENT_END and finished[-1].episode == 2
        n = len(obs)
        graph.spin_for(1.0)
        # still publishing, no longer stepping (the last few are all the final step of episode 2)
        assert len(obs) >= n + 5 and {(o.episode, o.step) for o in obs[-5:]} == {(2, 5)}
    finally:
        graph.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_first_episode_waits_for_the_recorder_and_is_seen_from_its_start():
    """wait_for_recorder: no episode before a node named `recorder` listens; then its first message is
    the START of episode 1 and the observations begin at step 0 (nothing of episode 1 is lost)."""
    ns = NS + "_rec"
    cmd = [sys.executable, "-m", "hitl_sim.nodes.sim_arm_node", "--ros-args", "-p", "task:=lift",
           "-p", "backend:=kinematic", "-p", "wait_for_recorder:=true", "-r", f"__ns:={ns}"]
    graph = RosGraph("watcher", ns)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=graph.env)
    seen: list = []
    graph.node.create_subscription(Observation, "observation", seen.append, 10)
    try:
        graph.spin_until(lambda: bool(seen), 20)  # observations flow (episode 0: not started)
        graph.spin_for(2.0)
        assert seen and all(o.episode == 0 for o in seen), "an episode started without the recorder"
        recorder = graph.create_node("recorder", namespace=ns)
        events: list = []
        obs: list = []
        recorder.create_subscription(EpisodeEvent, "episode_event", events.append, 10)
        recorder.create_subscription(Observation, "observation", lambda o: obs.append(o) if o.episode else None, 50)
        graph.spin_until(lambda: len(obs) >= 5, 20)
        assert events and events[0].event == EpisodeEvent.EVENT_START and events[0].episode == 1
        assert [o.step for o in obs[:5]] == list(range(5))
    finally:
        graph.close()
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0 and "recorder" in out


def test_the_recorders_report_counts_when_the_graph_has_lost_its_name():
    """Soak run m: the graph never named the recorder's episode_event reader, and the simulator waited
    the whole run. A listener not named `recorder` that reports its readers matched (as the recorder
    does on recorder/matched) lets episode 1 start, seen from its START; a report counted before the
    simulator started does not."""
    ns = NS + "_report"
    cmd = [sys.executable, "-m", "hitl_sim.nodes.sim_arm_node", "--ros-args", "-p", "task:=lift",
           "-p", "backend:=kinematic", "-p", "wait_for_recorder:=true", "-r", f"__ns:={ns}"]
    graph = RosGraph("watcher", ns)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=graph.env)
    stand_in = graph.create_node("stand_in", namespace=ns)  # the graph does not call it the recorder
    events: list = []
    obs: list = []
    readers = {stand_in.resolve_topic_name("episode_event"):
               stand_in.create_subscription(EpisodeEvent, "episode_event", events.append, 10),
               stand_in.resolve_topic_name("observation"):
               stand_in.create_subscription(Observation, "observation", obs.append, 50)}
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pub = stand_in.create_publisher(String, REPORT_TOPIC, latched)

    def report(stamp: float) -> None:
        matched = {name: sub.get_publisher_count() for name, sub in readers.items()}
        pub.publish(String(data=encode_report(matched, stamp)))

    try:
        graph.spin_until(lambda: obs and all(s.get_publisher_count() for s in readers.values()), 20)
        report(time.time() - 3600.0)  # counted before the simulator started: its writers may be old ones
        graph.spin_for(2.0)
        assert all(o.episode == 0 for o in obs), "an episode started on a stale report"
        report(time.time())
        graph.spin_until(lambda: sum(o.episode == 1 for o in obs) >= 5, 20)
        assert events and events[0].event == EpisodeEvent.EVENT_START and events[0].episode == 1
        first = [o.step for o in obs if o.episode == 1][:5]
        assert first == list(range(5))
    finally:
        graph.close()
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0 and "discovery information is late or lost" in out
