"""teleop_router_node over DDS: a real device's samples (published in its operator's namespace) reach the
robot the fleet allocator assigned that operator to, and only that robot (hitl_teleop/teleop_router.py)."""

from __future__ import annotations

import sys

import pytest
from hitl_core.ros.testing import RosGraph, output, ros_imports, stop

with ros_imports():
    from std_msgs.msg import String

    from hitl_msgs.msg import FleetAssignment, OperatorAssignment, TeleopCommand

pytestmark = pytest.mark.ros
ROBOTS = ("robot_0", "robot_1", "robot_2")


def _assignments(pairs: list[tuple[str, str]], waiting: tuple[str, ...] = ()) -> FleetAssignment:
    msg = FleetAssignment(waiting_robots=list(waiting))
    for op, robot in pairs:
        a = OperatorAssignment()
        a.operator_id, a.robot_id, a.assigned = op, robot, True
        msg.assignments.append(a)
    return msg


def test_device_samples_follow_the_operators_assignment(ros_graph: RosGraph):
    node = ros_graph.node
    got: dict[str, list[TeleopCommand]] = {r: [] for r in ROBOTS}
    for r in ROBOTS:
        node.create_subscription(TeleopCommand, f"/{r}/teleop", lambda m, r=r: got[r].append(m), 100)
    device = node.create_publisher(TeleopCommand, "/operator_0/teleop", 10)
    beats: list[str] = []
    node.create_subscription(String, "/fleet/operator_heartbeat", lambda m: beats.append(m.data), 10)
    fleet = node.create_publisher(FleetAssignment, "/fleet/assignments", 10)
    proc = ros_graph.spawn([sys.executable, "-m", "hitl_core.ros.boot", "hitl_teleop.nodes.teleop_router_node",
                            "--ros-args", "-r", "__ns:=/operator_0", "-p", "operator_id:=operator_0"])
    state: dict = {"pairs": [("operator_1", "robot_0")]}

    def tick() -> None:  # the device at its rate (engaged, pushing +x), the allocator republishing
        m = TeleopCommand()
        m.header.stamp = node.get_clock().now().to_msg()
        m.device, m.operator_id, m.engaged, m.gripper = "spacemouse", "whoever", True, 0.5
        m.delta.linear.x = 0.002
        device.publish(m)
        fleet.publish(_assignments(state["pairs"], state.get("waiting", ())))

    try:
        # connected, but operator_0 has no robot: nothing is forwarded anywhere
        assert ros_graph.spin_until(lambda: device.get_subscription_count() and fleet.get_subscription_count(),
                                    30, period=0.05), output(proc)
        ros_graph.spin_for(1.0, every=tick)
        assert not any(got.values()), {r: len(v) for r, v in got.items()}
        # it beats for its operator from the start (the allocator hands robots to operators it hears)
        assert ros_graph.spin_until(lambda: beats, 20, every=tick) and set(beats) == {"operator_0"}
        # robot_2 waits for an operator: the router's publisher to it exists before it is handed over,
        # so DDS has matched it by then (robot_1, named nowhere yet, has none)
        state["waiting"] = ["robot_2"]
        assert ros_graph.spin_until(lambda: node.count_publishers("/robot_2/teleop") == 1, 20, every=tick), (
            output(proc))
        assert node.count_publishers("/robot_0/teleop") == 1 and node.count_publishers("/robot_1/teleop") == 0
        assert not got["robot_2"]
        state["waiting"] = []

        state["pairs"] = [("operator_1", "robot_0"), ("operator_0", "robot_1")]
        assert ros_graph.spin_until(lambda: len(got["robot_1"]) >= 5, 20, every=tick), output(proc)
        assert {(m.operator_id, m.device, m.engaged) for m in got["robot_1"]} == {("operator_0", "spacemouse", True)}
        assert not got["robot_0"] and not got["robot_2"]

        state["pairs"] = [("operator_1", "robot_0"), ("operator_0", "robot_2")]  # moved to robot_2
        assert ros_graph.spin_until(lambda: len(got["robot_2"]) >= 5, 20, every=tick), output(proc)
        after_move = got["robot_1"][-1]
        assert not after_move.engaged and not after_move.take_over  # robot_1 was released, not left engaged
        ros_graph.spin_for(0.5, every=tick)
        assert got["robot_1"][-1] is after_move  # and gets nothing more
        assert not got["robot_0"]
    finally:
        out = stop(proc, "teleop_router")
    assert "forwarded" in out and "robot_1" in out and "robot_2" in out and "dropped" in out
