"""arbiter_node over DDS: the node runs in a subprocess, this process plays the arm driver, the
policy and the device. Run directly (`python test_arbiter_ros.py policy <namespace>`) it is a fake
policy node that answers every observation with a chunk (killed with SIGKILL by the test)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hitl_core.ros.testing import output, ros_imports, stop

HERE = Path(__file__).parent
HOME = [0.45, 0.0, 0.40]  # franka home

with ros_imports():  # run as the peer (__main__), a missing ROS is an error as well
    import rclpy
    from geometry_msgs.msg import Pose

    from hitl_msgs.msg import ActionChunk, ArmCommand, ControlState, Observation, TeleopCommand, Uncertainty
    from hitl_msgs.srv import SetControlMode

pytestmark = pytest.mark.ros


def now_stamp(node):
    return node.get_clock().now().to_msg()


def secs(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def make_chunk(node, target, obs_stamp=None) -> ActionChunk:
    msg = ActionChunk()
    msg.header.stamp = now_stamp(node)
    if obs_stamp is not None:
        msg.observation_stamp = obs_stamp
    msg.policy, msg.horizon, msg.n_execute, msg.action_dim, msg.dt = "fake", 4, 2, 4, 0.1
    msg.dim_names = ["x", "y", "z", "gripper"]
    msg.actions = [float(v) for v in [*target, 0.0]] * 4
    return msg


def run_fake_policy(namespace: str) -> None:
    """Peer mode: answer each observation with a chunk holding the current pose."""
    rclpy.init()
    node = rclpy.create_node("fake_policy", namespace=namespace)
    pub = node.create_publisher(ActionChunk, "action_chunk", 10)

    def on_obs(msg: Observation) -> None:
        p = msg.ee_poses[0].position
        pub.publish(make_chunk(node, [p.x, p.y, p.z], msg.header.stamp))

    node.create_subscription(Observation, "observation", on_obs, 10)
    print("READY", flush=True)
    rclpy.spin(node)


class Driver:
    """Arm driver + policy + uncertainty + device in this process (10 Hz), recording the arbiter's output."""

    def __init__(self, namespace: str, context):
        self.node = rclpy.create_node("arbiter_test_driver", namespace=namespace, context=context)
        n = self.node
        self.pub_obs = n.create_publisher(Observation, "observation", 10)
        self.pub_chunk = n.create_publisher(ActionChunk, "action_chunk", 10)
        self.pub_unc = n.create_publisher(Uncertainty, "uncertainty", 10)
        self.pub_teleop = n.create_publisher(TeleopCommand, "teleop", 10)
        self.states: list[tuple[float, ControlState]] = []
        self.commands: list[tuple[float, ArmCommand]] = []
        self.chunks_seen: list[tuple[float, ActionChunk]] = []
        n.create_subscription(
            ControlState, "control_state", lambda m: self.states.append((time.monotonic(), m)), 50
        )
        n.create_subscription(
            ArmCommand, "arm_command", lambda m: self.commands.append((time.monotonic(), m)), 50
        )
        n.create_subscription(
            ActionChunk, "action_chunk", lambda m: self.chunks_seen.append((time.monotonic(), m)), 50
        )
        self.mode_client = n.create_client(SetControlMode, "set_control_mode")
        self.pos = np.array(HOME)
        self.publish_chunks = True
        self.chunk_target: list[float] | None = None
        self.score = 0.1
        self.teleop: TeleopCommand | None = None
        self.step = 0
        n.create_timer(0.1, self.on_timer)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def on_timer(self) -> None:
        self.step += 1
        obs = Observation()
        obs.header.stamp = now_stamp(self.node)
        obs.header.frame_id = "fr3_link0"
        obs.robot_id, obs.task, obs.episode, obs.step = "t", "toy", 1, self.step
        obs.names, obs.data = ["x", "y", "z"], [float(v) for v in self.pos]
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in self.pos)
        pose.orientation.w = 1.0
        obs.ee_poses, obs.gripper = [pose], [0.0]
        self.pub_obs.publish(obs)
        if self.publish_chunks:
            self.pub_chunk.publish(
                make_chunk(self.node, self.chunk_target or list(self.pos), obs.header.stamp)
            )
        unc = Uncertainty()
        unc.header.stamp = obs.header.stamp
        unc.score, unc.threshold = float(self.score), 1.0
        self.pub_unc.publish(unc)
        if self.teleop is not None:
            self.teleop.header.stamp = now_stamp(self.node)
            self.pub_teleop.publish(self.teleop)
        if self.commands:
            cmd = self.commands[-1][1]
            if not cmd.hold and cmd.targets:
                p = cmd.targets[0].position
                self.pos = np.array([p.x, p.y, p.z])

    def send_teleop(self, **fields) -> float:
        msg = TeleopCommand()
        msg.device, msg.operator_id, msg.mode = "test", "tester", TeleopCommand.MODE_ABSOLUTE
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = HOME
        msg.pose.orientation.w = 1.0
        for k, v in fields.items():
            setattr(msg, k, v)
        msg.header.stamp = now_stamp(self.node)
        self.teleop = msg
        sent = time.monotonic()
        self.pub_teleop.publish(msg)
        return sent

    def wait_for(self, pred, timeout: float, after: float = 0.0, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in list(self.states):
                if t >= after and pred(m):
                    return t, m
            time.sleep(0.01)
        last = self.states[-1][1] if self.states else None
        raise AssertionError(f"timed out waiting for {what}; last control_state: {last}")

    def states_after(self, t0: float) -> list[ControlState]:
        return [m for t, m in list(self.states) if t >= t0]

    def close(self) -> None:
        """Stop spinning, then destroy the node here. Destroyed while the spin thread is still inside
        its wait, rclpy finishes the job in that thread when the wait returns; that was measured to
        deadlock in Fast DDS (participant teardown waiting on a discovery callback, GIL held) when
        the arbiter's exit arrived at the same moment."""
        self.executor.shutdown()
        self.thread.join(timeout=10)
        self.node.destroy_node()


@pytest.fixture(scope="module")
def namespace():
    return f"/arb_test_{os.getpid()}"


@pytest.fixture(scope="module")
def arbiter(namespace, ros_graph):
    cmd = [
        sys.executable,
        "-m",
        "hitl_teleop.nodes.arbiter_node",
        "--ros-args",
        "-r",
        f"__ns:={namespace}",
        "-p",
        "arm:=franka",
        "-p",
        "threshold:=1.0",
        "-p",
        "gating:=both",
        "-p",
        "policy_timeout_s:=0.15",
        "-p",
        "release_ticks:=2",
        "-p",
        "robot_id:=robot_t",
    ]
    proc = ros_graph.spawn(cmd)
    yield proc
    stop(proc, "arbiter_node")


@pytest.fixture(scope="module")
def driver(arbiter, namespace, ros_graph):
    d = Driver(namespace, ros_graph.context)
    try:
        d.wait_for(
            lambda m: m.source == ControlState.SOURCE_POLICY and not m.holding, 60, what="policy in control"
        )
    except AssertionError:
        arbiter.terminate()
        arbiter.wait(timeout=10)
        raise AssertionError(f"arbiter never drove under the policy; its output:\n{output(arbiter)}") from None
    yield d
    d.close()


def reset_to_policy(d: Driver) -> None:
    d.teleop = None
    d.score = 0.1
    d.publish_chunks = True
    d.chunk_target = None
    d.wait_for(
        lambda m: m.source == ControlState.SOURCE_POLICY and not m.holding,
        10,
        after=time.monotonic(),
        what="back to policy",
    )


def test_human_gated_take_over_and_release(driver):
    d = driver
    target = [HOME[0] + 0.01, HOME[1], HOME[2]]
    sent = d.send_teleop(engaged=True, take_over=True)
    d.teleop.pose.position.x = target[0]
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_HUMAN, 5, after=sent, what="HUMAN")
    assert st.reason == ControlState.REASON_HUMAN_GATED and st.operator_id == "tester"
    # applied on the next control tick (two at most, allowing for a tick already in flight)
    before = d.states_after(sent)
    idx = next(i for i, m in enumerate(before) if m.source == ControlState.SOURCE_HUMAN)
    assert idx <= 1, [m.source for m in before[:4]]
    sent = d.send_teleop(engaged=False, take_over=False)
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_POLICY, 5, after=sent, what="release")
    assert st.reason == ControlState.REASON_OPERATOR_RELEASED
    reset_to_policy(d)


def test_pause_and_resume_from_device(driver):
    d = driver
    sent = d.send_teleop(pause=True)
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_PAUSED, 5, after=sent, what="PAUSED")
    assert st.reason == ControlState.REASON_PAUSE and st.holding
    idx = next(i for i, m in enumerate(d.states_after(sent)) if m.source == ControlState.SOURCE_PAUSED)
    assert idx <= 1
    d.send_teleop(pause=False)
    time.sleep(0.3)
    assert d.states[-1][1].source == ControlState.SOURCE_PAUSED  # release of the button is no edge
    sent = d.send_teleop(pause=True)
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_POLICY, 5, after=sent, what="resume")
    assert st.reason == ControlState.REASON_RESUME
    reset_to_policy(d)


def test_robot_gated_help_and_handover(driver):
    d = driver
    t0 = time.monotonic()
    d.score = 3.0
    _, st = d.wait_for(lambda m: m.help_requested, 5, after=t0, what="help request")
    assert st.source == ControlState.SOURCE_PAUSED and st.reason == ControlState.REASON_ROBOT_GATED
    sent = d.send_teleop(engaged=True)
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_HUMAN, 5, after=sent, what="hand-over")
    assert st.reason == ControlState.REASON_ROBOT_GATED
    t1 = time.monotonic()
    d.score = 0.1
    _, st = d.wait_for(lambda m: m.source == ControlState.SOURCE_POLICY, 5, after=t1, what="return")
    assert st.reason == ControlState.REASON_UNCERTAINTY_LOW and not st.help_requested
    reset_to_policy(d)


def test_nan_rejected_and_out_of_workspace_clamped(driver):
    d = driver
    base = d.states[-1][1]
    t0 = time.monotonic()
    d.chunk_target = [float("nan"), 0.0, 0.4]
    _, st = d.wait_for(
        lambda m: m.reason == ControlState.REASON_INVALID_COMMAND, 5, after=t0, what="NaN hold"
    )
    assert st.holding and st.rejected_commands > base.rejected_commands
    cmds = [c for t, c in list(d.commands) if t >= t0]
    assert all(np.isfinite(c.targets[0].position.x) for c in cmds)
    t1 = time.monotonic()
    d.chunk_target = [5.0, 0.0, 0.4]
    _, st = d.wait_for(
        lambda m: m.clamped_commands > base.clamped_commands and not m.holding, 5, after=t1, what="clamp"
    )
    time.sleep(0.5)
    xs = [c.targets[0].position.x for t, c in list(d.commands) if t >= t1 and not c.hold]
    assert xs and max(xs) <= 0.80 + 1e-9  # franka workspace_max x
    steps = np.abs(np.diff(xs))
    assert np.all(steps <= 0.025 + 1e-6)  # 0.25 m/s at 10 Hz
    reset_to_policy(d)


def test_set_control_mode_service(driver):
    d = driver
    assert d.mode_client.wait_for_service(timeout_sec=10)
    req = SetControlMode.Request(
        source=SetControlMode.Request.SOURCE_PAUSED, operator_id="tester", reason="test"
    )
    sent = time.monotonic()
    res = call(d.mode_client, req)
    assert res.success and res.previous_source == SetControlMode.Request.SOURCE_POLICY
    _, st = d.wait_for(
        lambda m: m.source == ControlState.SOURCE_PAUSED, 5, after=sent, what="paused by service"
    )
    assert st.reason_text == "test" and st.reason == ControlState.REASON_PAUSE
    sent = time.monotonic()
    res = call(d.mode_client, SetControlMode.Request(source=SetControlMode.Request.SOURCE_POLICY))
    assert res.success and res.previous_source == SetControlMode.Request.SOURCE_PAUSED
    _, st = d.wait_for(
        lambda m: m.source == ControlState.SOURCE_POLICY, 5, after=sent, what="policy by service"
    )
    assert st.reason == ControlState.REASON_OPERATOR_RELEASED
    reset_to_policy(d)


def call(client, req, timeout: float = 10.0):
    fut = client.call_async(req)
    deadline = time.monotonic() + timeout
    while not fut.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fut.done(), "service call timed out"
    return fut.result()


def test_killed_policy_node_holds_within_200ms_with_reason(driver, namespace):
    d = driver
    d.publish_chunks = False
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # ROS_DOMAIN_ID: the module's graph (ros_graph)
    peer = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "policy", namespace],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "READY" in peer.stdout.readline()
        t0 = time.monotonic()
        d.wait_for(
            lambda m: m.source == ControlState.SOURCE_POLICY and not m.holding,
            30,
            after=t0,
            what="policy from the peer",
        )
        time.sleep(1.0)  # the peer drives for a while
        os.kill(peer.pid, signal.SIGKILL)
        peer.wait(timeout=10)
        killed = time.monotonic()
        _, st = d.wait_for(lambda m: m.holding, 5, after=killed, what="hold after the kill")
        assert st.reason == ControlState.REASON_STALE_POLICY and "action chunk" in st.reason_text
        last_chunk = max(secs(m.header.stamp) for t, m in d.chunks_seen if t <= killed)
        hold_cmd = next(c for t, c in list(d.commands) if t >= killed and c.hold)
        latency = secs(hold_cmd.header.stamp) - last_chunk
        print(f"hold latency from the last chunk: {latency * 1e3:.0f} ms")
        assert 0.15 <= latency <= 0.2, f"hold {latency * 1e3:.0f} ms after the last chunk"
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    reset_to_policy(d)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "policy":
        run_fake_policy(sys.argv[2])
