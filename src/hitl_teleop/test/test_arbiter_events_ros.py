"""arbiter_node over DDS, the robustness side (docs/arbiter.md):

- a take-over is applied on the device message, not at the next tick: with 1 Hz ticks the HUMAN
  state still comes well under half a period after the message (before: up to a whole period);
- a second arbiter for the same robot (two graphs on one domain and namespace) makes it hold and
  say why, and control resumes once the other is gone;
- fuzzed inputs on every topic it subscribes to (wrong array lengths, NaN/inf, huge values, unknown
  enum values, empty/unknown strings, stamps far in the past or future, out of order): it keeps
  running, counts and reports each rejection, and holds the arm where such input would command it.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time

import pytest
from hitl_core.ros.testing import output, poll, ros_imports, stop

with ros_imports():
    import rclpy

    from hitl_msgs.msg import ActionChunk, ControlState, EpisodeEvent, Observation, TeleopCommand, Uncertainty

from test_arbiter_ros import Driver

pytestmark = pytest.mark.ros


def _arbiter(graph, namespace: str, *params: str):
    cmd = [sys.executable, "-m", "hitl_teleop.nodes.arbiter_node", "--ros-args", "-r", f"__ns:={namespace}",
           "-p", "arm:=franka", "-p", "threshold:=1.0", "-p", "robot_id:=robot_e"]
    for p in params:
        cmd += ["-p", p]
    return graph.spawn(cmd)


def _policy_in_control(d: Driver, proc, timeout: float = 60.0) -> None:
    try:
        d.wait_for(lambda m: m.source == ControlState.SOURCE_POLICY and not m.holding, timeout,
                   after=time.monotonic(), what="policy in control")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\narbiter output:\n{output(proc)}") from None


def test_take_over_is_applied_on_the_device_message_not_at_the_next_tick(ros_graph):
    ns = f"/arb_ev_{os.getpid()}"
    proc = _arbiter(ros_graph, ns, "rate_hz:=1.0")  # one tick a second: waiting for it would take up to 1 s
    d = Driver(ns, ros_graph.context)
    try:
        _policy_in_control(d, proc)
        delays = []
        for _ in range(5):  # the old tick-bound path: all five under 0.4 s with probability 0.4^5 = 1 %
            time.sleep(random.uniform(0.1, 0.9))
            sent = d.send_teleop(engaged=True, take_over=True)
            t, _m = d.wait_for(lambda m: m.source == ControlState.SOURCE_HUMAN, 10, after=sent, what="HUMAN")
            delays.append(t - sent)
            released = d.send_teleop(engaged=False, take_over=False)
            d.wait_for(lambda m: m.source == ControlState.SOURCE_POLICY, 10, after=released, what="POLICY")
        # event-driven: DDS + one callback (ms); the 1 Hz tick would average 500 ms
        assert max(delays) < 0.4, delays
    finally:
        d.close()
        stop(proc, "arbiter_node")


def test_a_second_arbiter_for_the_same_robot_makes_it_hold_and_say_why(ros_graph):
    ns = f"/arb_two_{os.getpid()}"
    first = _arbiter(ros_graph, ns)
    d = Driver(ns, ros_graph.context)
    try:
        _policy_in_control(d, first)
        second = _arbiter(ros_graph, ns)  # another graph's arbiter, same domain and namespace
        _t, m = d.wait_for(lambda m: m.holding and "another publisher" in m.reason_text, 60,
                          after=time.monotonic(), what="a hold naming the other publisher")
        assert "arm_command" in m.reason_text
        # that hold may be the second's (it finds the first at once); the first checks every 0.5 s:
        # stopping the second before the first saw it made this test fail on an idle machine
        seen = "another publisher of this robot's commands"
        assert poll(lambda: seen in output(first, 20000), 30, 0.1), output(first)
        stop(second, "second arbiter_node")
        _policy_in_control(d, first, 30)
        assert "the other publisher is gone: control resumes" in output(first, 20000)
    finally:
        d.close()
        stop(first, "arbiter_node")


OFFSETS: dict[int, float] = {}  # id(message) -> stamp offset from the publish time (s)


def _stamp(node, offset_s: float = 0.0):
    """Marks the message's stamp offset; the stamp itself is set when it is published."""
    return offset_s


def _restamp(node, msg, offset_s: float) -> None:
    t = node.get_clock().now().nanoseconds * 1e-9 + offset_s
    msg.header.stamp = rclpy.time.Time(nanoseconds=int(max(t, 0.0) * 1e9)).to_msg()


def _bad_messages(node) -> dict[str, list]:
    """Malformed messages per subscribed topic."""
    nan, inf = float("nan"), float("inf")
    out: dict[str, list] = {"observation": [], "action_chunk": [], "uncertainty": [], "teleop": [],
                            "episode_event": []}
    for values, stamp in (([nan, 0.0, 0.4], 0.0), ([inf, 0.0, 0.4], 0.0), ([1e300, -1e300, 1e300], 0.0),
                          ([0.45, 0.0, 0.4], 3600.0), ([0.45, 0.0, 0.4], -3600.0), ([0.45, 0.0, 0.4], -0.5)):
        o = Observation()
        OFFSETS[id(o)] = _stamp(node, stamp)
        o.names, o.data = ["x"], values
        pose = o.ee_poses = [__import__("geometry_msgs.msg", fromlist=["Pose"]).Pose()]
        pose[0].position.x, pose[0].position.y, pose[0].position.z = values
        o.gripper = [0.0]
        out["observation"].append(o)
    o = Observation()  # no end effector at all (wrong length)
    OFFSETS[id(o)] = _stamp(node)
    out["observation"].append(o)
    for actions, dim, names in (([nan] * 16, 4, ["x", "y", "z", "gripper"]), ([inf] * 16, 4, ["x", "y", "z", "g"]),
                                ([1e300] * 16, 4, ["x", "y", "z", "gripper"]), ([0.1] * 7, 4, ["x"]),
                                ([], 0, []), ([0.1] * 12, 3, ["", "?", "unknown"])):
        c = ActionChunk()
        OFFSETS[id(c)] = _stamp(node)
        c.horizon, c.n_execute, c.action_dim, c.dt = 4, 2, dim, 0.1
        c.dim_names, c.actions = names, actions
        out["action_chunk"].append(c)
    c = ActionChunk()  # far-future stamp: would never go stale
    OFFSETS[id(c)] = _stamp(node, 3600.0)
    c.horizon, c.n_execute, c.action_dim, c.dt = 4, 2, 4, 0.1
    c.actions = [0.45, 0.0, 0.4, 0.0] * 4
    out["action_chunk"].append(c)
    for score, thr in ((nan, 1.0), (inf, 1.0), (-inf, 1.0), (1e300, nan), (0.1, -1.0)):
        u = Uncertainty()
        OFFSETS[id(u)] = _stamp(node)
        u.score, u.threshold = score, thr
        out["uncertainty"].append(u)
    for kw in ({"mode": 7}, {"arm_index": 9}, {"gripper": nan}, {"device": "", "operator_id": ""}):
        t = TeleopCommand()
        OFFSETS[id(t)] = _stamp(node)
        t.engaged = True
        t.pose.position.x, t.pose.position.z, t.pose.orientation.w = 0.45, 0.4, 1.0
        for k, v in kw.items():
            setattr(t, k, v)
        out["teleop"].append(t)
    t = TeleopCommand()
    OFFSETS[id(t)] = _stamp(node)
    t.engaged, t.mode = True, TeleopCommand.MODE_DELTA
    t.delta.linear.x = inf
    out["teleop"].append(t)
    for kw in ({"event": 9}, {"episode": 2**32 - 1}, {"task": "", "robot_id": "unknown"}):
        e = EpisodeEvent()
        OFFSETS[id(e)] = _stamp(node, 3600.0 if kw.get("event") == 9 else 0.0)
        for k, v in kw.items():
            setattr(e, k, v)
        out["episode_event"].append(e)
    return out


def test_fuzzed_inputs_on_every_subscription_are_rejected_counted_and_the_arm_held(ros_graph):
    ns = f"/arb_fuzz_{os.getpid()}"
    proc = _arbiter(ros_graph, ns)
    d = Driver(ns, ros_graph.context)
    try:
        _policy_in_control(d, proc)
        pubs = {"observation": d.pub_obs, "action_chunk": d.pub_chunk, "uncertainty": d.pub_unc,
                "teleop": d.pub_teleop}
        pubs["episode_event"] = d.node.create_publisher(EpisodeEvent, "episode_event", 10)
        bad = _bad_messages(d.node)
        d.publish_chunks = False  # only the fuzzed chunks now: the policy's action must not be executed
        t0 = time.monotonic()
        for topic, msgs in bad.items():
            for m in msgs:
                _restamp(d.node, m, OFFSETS[id(m)])
                pubs[topic].publish(m)
                time.sleep(0.02)
        # the arm is held (the policy's only chunks were malformed or stamped in the future)
        d.wait_for(lambda m: m.holding, 10, after=t0, what="a hold")
        time.sleep(0.5)
        assert proc.poll() is None, output(proc)
        commands = [m for t, m in list(d.commands) if t > t0 + 0.3]
        assert commands and all(c.hold for c in commands[-3:]), "the arm was driven by fuzzed input"
        for c in commands:
            for p in c.targets:
                assert all(math.isfinite(v) for v in (p.position.x, p.position.y, p.position.z))
        log = output(proc, 30000)
        reports = {  # each input's rejection is reported (by the node's guard or the arbiter's own check)
            "observation": ("observation message rejected (stamp in the future", "observation message rejected "
                            "(stamp in the past", "observation message rejected (out of order",
                            "observation with non-finite values ignored", "observation message rejected (ValueError"),
            "action_chunk": ("action chunk rejected", "action_chunk message rejected (stamp in the future"),
            "uncertainty": ("non-finite uncertainty score ignored",),
            "teleop": ("teleop command from", "bad arm_index 9"),
            "episode_event": ("episode_event message rejected (stamp in the future",),
        }
        missing = [r for rs in reports.values() for r in rs if r not in log]
        assert not missing, f"not reported: {missing}\n{log[-4000:]}"
        # and it recovers once good input flows again
        d.publish_chunks = True
        _policy_in_control(d, proc, 30)
    finally:
        d.close()
        stop(proc, "arbiter_node")
