"""The arbiter's peers over DDS: sim_operator_node answers a help request with the scripted expert,
fleet_allocator_node assigns operators to the robots that need help most."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hitl_core.ros.testing import output, ros_imports, spawn, stop

with ros_imports():
    from hitl_msgs.msg import ControlState, FleetAssignment, HelpRequest, Observation, TeleopCommand

pytestmark = pytest.mark.ros


def start(module: str, *params: str, ns: str = "/") -> subprocess.Popen:
    cmd = [sys.executable, "-m", f"hitl_teleop.nodes.{module}", "--ros-args", "-r", f"__ns:={ns}"]
    for p in params:
        cmd += ["-p", p]
    return spawn(cmd)  # on the module's domain (ros_graph sets ROS_DOMAIN_ID)


@pytest.fixture(scope="module")
def ros(ros_graph):
    """The module graph's test node, spun in a background thread (the tests poll with ``wait``)."""
    ros_graph.spin_in_thread()
    return ros_graph.node


def wait(pred, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = pred()
        if r:
            return r
        time.sleep(0.02)
    out = ""
    if proc is not None:
        proc.kill()
        proc.wait()
        out = output(proc)
    raise AssertionError(f"timed out waiting for {what}\n{out}")


def test_sim_operator_node_answers_help_with_the_expert(ros):
    hitl_sim = pytest.importorskip("hitl_sim")
    ns = f"/op_test_{os.getpid()}"
    env = hitl_sim.make_env("lift", arm="franka", num_envs=1, seed=1)
    env.reset()
    expected = hitl_sim.make_expert("lift").act(env.get_state())[0]
    proc = start("sim_operator_node", "task:=lift", "operator_id:=sim_9", "reaction_delay_ticks:=2", ns=ns)
    got: list[TeleopCommand] = []
    ros.create_subscription(TeleopCommand, f"{ns}/teleop", got.append, 50)
    pub_cs = ros.create_publisher(ControlState, f"{ns}/control_state", 10)
    pub_state = ros.create_publisher(Observation, f"{ns}/sim/state", 10)
    state = Observation()
    state.names, state.data = list(env.state_names), [float(v) for v in env.get_state()[0]]
    cs = ControlState(source=ControlState.SOURCE_POLICY, episode=1)
    try:
        # idle while the policy drives: engaged=false samples keep the device alive
        def tick():
            pub_cs.publish(cs)
            time.sleep(0.03)
            pub_state.publish(state)
            time.sleep(0.07)

        wait(lambda: (tick(), len(got) >= 3)[1], 60, "idle teleop samples", proc)
        assert not any(m.engaged for m in got)
        cs = ControlState(source=ControlState.SOURCE_PAUSED, help_requested=True, episode=1)
        got.clear()
        wait(lambda: (tick(), any(m.engaged for m in got))[1], 10, "engagement", proc)
        first = next(i for i, m in enumerate(got) if m.engaged)
        assert first >= 2  # two ticks of reaction delay (at least: delivery may add ticks)
        m = next(m for m in got if m.engaged)
        assert (
            m.operator_id == "sim_9" and m.device == "sim_operator" and m.mode == TeleopCommand.MODE_ABSOLUTE
        )
        pos = [m.pose.position.x, m.pose.position.y, m.pose.position.z]
        np.testing.assert_allclose(pos, expected[:3], atol=1e-9)
        assert m.gripper == pytest.approx(expected[4])
        cs = ControlState(source=ControlState.SOURCE_HUMAN, help_requested=True, episode=1)
        for _ in range(3):
            tick()
        cs = ControlState(
            source=ControlState.SOURCE_POLICY, reason=ControlState.REASON_UNCERTAINTY_LOW, episode=1
        )
        got.clear()
        wait(lambda: (tick(), len(got) >= 2 and not got[-1].engaged)[1], 10, "release", proc)
    finally:
        if proc.poll() is None:
            stop(proc)


def test_fleet_allocator_node_assigns_by_priority(ros):
    tag = f"f{os.getpid()}"
    robots = [f"{tag}_r0", f"{tag}_r1", f"{tag}_r2"]
    proc = start(
        "fleet_allocator_node",
        f"robot_ids:=[{', '.join(robots)}]",
        "operator_ids:=[alice]",
        "threshold:=0.5",
        "min_intervention_s:=0.5",
        "rate_hz:=20.0",
    )
    latest: list[FleetAssignment] = []
    ros.create_subscription(FleetAssignment, "/fleet/assignments", latest.append, 50)
    pubs = {r: ros.create_publisher(HelpRequest, f"/{r}/help_request", 10) for r in robots}

    def publish(prios: dict[str, tuple[float, bool]]) -> None:
        for r, (p, hard) in prios.items():
            reason = HelpRequest.REASON_HARD_RESET if hard else HelpRequest.REASON_UNCERTAINTY
            pubs[r].publish(HelpRequest(robot_id=r, active=True, priority=p, uncertainty=p, reason=reason))

    def newest() -> FleetAssignment | None:
        mine = [m for m in latest if any(a.robot_id in robots for a in m.assignments)]
        return mine[-1] if mine else None

    def assigned() -> dict[str, str]:
        m = newest()
        return {} if m is None else {a.robot_id: a.operator_id for a in m.assignments if a.assigned}

    def queued() -> set[str]:
        m = newest()
        return set() if m is None else set(m.waiting_robots) & set(robots)

    try:
        prios = {robots[0]: (0.9, False), robots[1]: (2.0, False), robots[2]: (0.2, False)}
        # one decision made with all three requests in: alice on the most uncertain robot, robot 0
        # (above the threshold) queued, robot 2 (below it) not. Requests arrive one by one over DDS,
        # so an earlier decision may have seen robot 1 alone.
        wait(
            lambda: (publish(prios), time.sleep(0.05),
                     assigned() == {robots[1]: "alice"} and queued() == {robots[0]})[2],
            60,
            "alice on the most uncertain robot, robot 0 waiting",
            proc,
        )
        prios = {robots[0]: (0.9, True), robots[1]: (2.0, False), robots[2]: (0.2, False)}
        wait(
            lambda: (publish(prios), time.sleep(0.05), assigned() == {robots[0]: "alice"})[2],
            10,
            "hard reset first after t_T",
            proc,
        )
    finally:
        if proc.poll() is None:
            stop(proc)


@pytest.mark.slow
def test_end_to_end_operator_finishes_lift_through_the_arbiter(ros):
    """sim_arm_node + arbiter_node + sim_operator_node; a stuck fake policy that is always uncertain."""
    pytest.importorskip("hitl_sim.nodes.sim_arm_node")
    from hitl_msgs.msg import ActionChunk, EpisodeEvent, Uncertainty

    ns = f"/e2e_test_{os.getpid()}"
    cmd = [
        sys.executable,
        "-m",
        "hitl_sim.nodes.sim_arm_node",
        "--ros-args",
        "-r",
        f"__ns:={ns}",
        "-p",
        "task:=lift",
        "-p",
        "episodes:=0",
        "-p",
        "seed:=4",
        "-p",  # no episode starts (and times out) while the arbiter and the operator still load
        "wait_for_publishers:=[arm_command, teleop]",
        "-p",  # on a loaded machine watchdog holds slow the operator down: this test is not about speed
        "max_episode_steps:=300",
    ]
    procs = [
        spawn(cmd),
        start("arbiter_node", "threshold:=1.0", "gating:=robot", ns=ns),
        start("sim_operator_node", "task:=lift", "reaction_delay_ticks:=2", "operator_id:=sim_e2e", ns=ns),
    ]
    pub_chunk = ros.create_publisher(ActionChunk, f"{ns}/action_chunk", 10)
    pub_unc = ros.create_publisher(Uncertainty, f"{ns}/uncertainty", 10)
    events: list[EpisodeEvent] = []
    states: list[ControlState] = []

    def on_obs(m: Observation) -> None:  # stuck policy: "stay where you are", always uncertain
        p = m.ee_poses[0]
        yaw = 2 * np.arctan2(p.orientation.z, p.orientation.w)
        c = ActionChunk(horizon=2, n_execute=1, action_dim=5, dt=0.1, observation_stamp=m.header.stamp)
        c.header.stamp = ros.get_clock().now().to_msg()
        c.actions = [p.position.x, p.position.y, p.position.z, float(yaw), m.gripper[0]] * 2
        pub_chunk.publish(c)
        u = Uncertainty(score=3.0, threshold=1.0)
        u.header.stamp = m.header.stamp
        pub_unc.publish(u)

    ros.create_subscription(Observation, f"{ns}/observation", on_obs, 10)
    ros.create_subscription(EpisodeEvent, f"{ns}/episode_event", events.append, 10)
    ros.create_subscription(ControlState, f"{ns}/control_state", states.append, 50)
    try:
        wait(lambda: any(e.event == EpisodeEvent.EVENT_END for e in events), 90, "an episode end")
        end = next(e for e in events if e.event == EpisodeEvent.EVENT_END)
        logs = "\n".join(f"--- {p.args[2]}\n{output(p, 1500)}" for p in procs)
        assert end.success, f"episode ended without success: {end}\n{logs}"
        human = [s for s in states if s.source == ControlState.SOURCE_HUMAN]
        assert human and all(s.operator_id == "sim_e2e" for s in human)
        assert any(s.help_requested and s.reason == ControlState.REASON_ROBOT_GATED for s in states)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
