"""sim_operator_node over DDS: between simulator ticks it streams its latest command at ``rate_hz``, as a
real device does while its operator holds still, so the arbiter's 0.15 s device timeout fires only
when the operator's process is gone (bench/soak.py's kill_device / drop_operator)."""

from __future__ import annotations

import itertools
import sys

import pytest
from hitl_core.ros.testing import output, ros_imports, stop

with ros_imports():
    from hitl_msgs.msg import ControlState, FleetAssignment, Observation, OperatorAssignment, TeleopCommand

pytestmark = pytest.mark.ros


def secs(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def pose(m: TeleopCommand) -> tuple[float, float, float, float]:
    return (m.pose.position.x, m.pose.position.y, m.pose.position.z, m.gripper)


def test_latest_command_repeats_between_ticks_and_stops_with_the_process(ros_node):
    import hitl_sim

    env = hitl_sim.make_env("nav", arm="franka", num_envs=1, seed=0)
    env.reset()
    names, state = list(env.state_names), env.get_state()[0]
    ns = "/stream_test"
    got: list[TeleopCommand] = []
    ros_node.create_subscription(TeleopCommand, f"{ns}/teleop", got.append, 100)
    pub_cs = ros_node.create_publisher(ControlState, f"{ns}/control_state", 10)
    pub_state = ros_node.create_publisher(Observation, f"{ns}/sim/state", 10)
    proc = ros_node.graph.spawn([sys.executable, "-m", "hitl_teleop.nodes.sim_operator_node", "--ros-args",
                                 "-r", f"__ns:={ns}", "-p", "task:=nav", "-p", "reaction_delay_ticks:=0",
                                 "-p", "rate_hz:=20.0"])
    try:
        def tick() -> None:  # the robot asks for help; one simulator tick
            pub_cs.publish(ControlState(source=ControlState.SOURCE_PAUSED, help_requested=True, episode=1))
            pub_state.publish(Observation(names=names, data=[float(v) for v in state]))

        assert ros_node.spin_until(lambda: any(m.engaged for m in got), 60, every=tick, period=0.2), (
            "the operator never engaged\n" + output(proc))
        first = next(i for i, m in enumerate(got) if m.engaged)
        # no more simulator ticks: the stream goes on with the same command and fresh stamps
        assert ros_node.spin_until(lambda: len(got) >= first + 6, 30), output(proc)
        stream = got[first:first + 6]
        stamps = [secs(m.header.stamp) for m in stream]
        assert all(b > a for a, b in itertools.pairwise(stamps)), stamps
        assert all(m.engaged and pose(m) == pose(stream[0]) for m in stream[1:])
        # the median gap is the stream's period (20 Hz), not the simulator's (there is none now)
        gaps = sorted(b - a for a, b in itertools.pairwise(stamps))
        assert gaps[len(gaps) // 2] < 0.2, gaps
    finally:
        stop(proc, "sim_operator")
    n = len(got)
    ros_node.spin_for(0.5)
    assert len(got) == n, "teleop from a stopped operator"


def test_in_a_fleet_it_makes_its_teleop_publishers_before_it_is_handed_a_robot(ros_node):
    """Robots an allocator message names (assigned to others, or waiting) get this operator's teleop
    publisher at once, so DDS has matched it when the operator is handed one (hitl_teleop/teleop_router.py
    ``robots_in``); the robot it is given hears it stream "idle" at once."""
    fleet = ros_node.create_publisher(FleetAssignment, "/fleet/assignments", 10)
    got: list[TeleopCommand] = []
    ros_node.create_subscription(TeleopCommand, "/robot_7/teleop", got.append, 100)
    proc = ros_node.graph.spawn([sys.executable, "-m", "hitl_teleop.nodes.sim_operator_node", "--ros-args",
                                 "-r", "__ns:=/operator_0", "-r", "__node:=operator_0", "-p", "task:=nav",
                                 "-p", "fleet:=true", "-p", "operator_id:=operator_0"])
    mine = {"robot": ""}

    def tick() -> None:
        msg = FleetAssignment(waiting_robots=["robot_7"])
        msg.assignments.append(OperatorAssignment(operator_id="operator_1", robot_id="robot_6", assigned=True))
        if mine["robot"]:
            msg.assignments.append(OperatorAssignment(operator_id="operator_0", robot_id=mine["robot"],
                                                      assigned=True))
        fleet.publish(msg)

    try:
        assert ros_node.spin_until(lambda: all(ros_node.count_publishers(f"/robot_{i}/teleop") == 1 for i in (6, 7)),
                                   60, every=tick, period=0.1), output(proc)
        assert ros_node.count_publishers("/robot_5/teleop") == 0 and not got  # nothing sent before it is assigned
        mine["robot"] = "robot_7"
        assert ros_node.spin_until(lambda: got, 30, every=tick, period=0.1), output(proc)
        assert got[0].operator_id == "operator_0" and not got[0].engaged  # idle from the moment it is given it
    finally:
        stop(proc, "sim_operator")


def test_in_a_fleet_it_keeps_a_robots_subscriptions_across_hand_overs(ros_node):
    """Handed from robot_7 to robot_6 and back, the operator keeps robot_7's subscriptions (making and
    destroying DDS readers at every hand-over blocked its executor for seconds under load: soak run h),
    ignores robot_7 while it serves robot_6, and helps robot_7 again once it is handed back."""
    import hitl_sim

    env = hitl_sim.make_env("nav", arm="franka", num_envs=1, seed=0)
    env.reset()
    names, state = list(env.state_names), env.get_state()[0]
    fleet = ros_node.create_publisher(FleetAssignment, "/fleet/assignments", 10)
    got: list[TeleopCommand] = []
    ros_node.create_subscription(TeleopCommand, "/robot_7/teleop", got.append, 100)
    pub_cs = ros_node.create_publisher(ControlState, "/robot_7/control_state", 10)
    pub_state = ros_node.create_publisher(Observation, "/robot_7/sim/state", 10)
    proc = ros_node.graph.spawn([sys.executable, "-m", "hitl_teleop.nodes.sim_operator_node", "--ros-args",
                                 "-r", "__ns:=/operator_0", "-r", "__node:=operator_0", "-p", "task:=nav",
                                 "-p", "fleet:=true", "-p", "operator_id:=operator_0",
                                 "-p", "reaction_delay_ticks:=0"])
    mine = {"robot": "robot_7"}

    def tick() -> None:  # the allocator's message; robot_7 asks for help; one simulator tick of robot_7
        msg = FleetAssignment()
        msg.assignments.append(OperatorAssignment(operator_id="operator_0", robot_id=mine["robot"], assigned=True))
        fleet.publish(msg)
        pub_cs.publish(ControlState(source=ControlState.SOURCE_PAUSED, help_requested=True, episode=1))
        pub_state.publish(Observation(names=names, data=[float(v) for v in state]))

    def engaged() -> bool:
        return any(m.engaged for m in got)

    try:
        assert ros_node.spin_until(engaged, 60, every=tick, period=0.2), output(proc)
        mine["robot"] = "robot_6"
        assert ros_node.spin_until(lambda: ros_node.count_subscribers("/robot_6/control_state") == 1, 30,
                                   every=tick, period=0.2), output(proc)
        assert ros_node.spin_until(lambda: got and not got[-1].engaged, 30, every=tick, period=0.2), output(proc)
        # serving robot_6: robot_7's readers stay, and its help requests get no engaged command
        assert ros_node.count_subscribers("/robot_7/control_state") == 1
        assert ros_node.count_subscribers("/robot_7/sim/state") == 1
        n = len(got)
        ros_node.spin_for(1.0, every=tick, period=0.2)
        assert not any(m.engaged for m in got[n:])
        got.clear()
        mine["robot"] = "robot_7"
        assert ros_node.spin_until(engaged, 30, every=tick, period=0.2), output(proc)
        assert ros_node.count_subscribers("/robot_7/control_state") == 1  # the kept reader, no second one
    finally:
        stop(proc, "sim_operator")


def test_in_a_fleet_it_beats_only_while_it_hears_the_allocator(ros_node):
    """A heartbeat asks the allocator for robots: none before the first /fleet/assignments, beats while
    they come, silence (and a warning) 3 s after they stop, beats again when they come back
    (hitl_teleop/fleet.py ``HeartbeatGate``; soak run n's restarted operator beat while deaf)."""
    from hitl_teleop.fleet import ALLOCATOR_SILENT_S, HEARTBEAT_TOPIC
    from std_msgs.msg import String

    beats: list[float] = []
    ros_node.create_subscription(String, HEARTBEAT_TOPIC,
                                 lambda m: beats.append(ros_node.get_clock().now().nanoseconds * 1e-9)
                                 if m.data == "operator_5" else None, 10)
    fleet = ros_node.create_publisher(FleetAssignment, "/fleet/assignments", 10)
    proc = ros_node.graph.spawn([sys.executable, "-m", "hitl_teleop.nodes.sim_operator_node", "--ros-args",
                                 "-r", "__ns:=/operator_5", "-r", "__node:=operator_5", "-p", "task:=nav",
                                 "-p", "fleet:=true", "-p", "operator_id:=operator_5"])

    def allocator() -> None:
        fleet.publish(FleetAssignment(waiting_robots=["robot_0"]))

    try:
        assert ros_node.spin_until(lambda: fleet.get_subscription_count() and "operator_5" in output(proc), 60)
        ros_node.spin_for(2.0)
        assert not beats, "a heartbeat before the allocator was heard"
        assert ros_node.spin_until(lambda: len(beats) >= 3, 30, every=allocator, period=0.1), output(proc)
        ros_node.spin_for(ALLOCATOR_SILENT_S + 1.5)  # the allocator goes quiet
        n = len(beats)
        ros_node.spin_for(1.5)
        assert len(beats) == n, "beats on without the allocator"
        assert "no /fleet/assignments for" in output(proc)
        assert ros_node.spin_until(lambda: len(beats) > n, 30, every=allocator, period=0.1), output(proc)
    finally:
        stop(proc, "sim_operator")
