"""teleop_router_node: a real teleop device in a fleet drives whichever robot its operator is assigned to
(thin ROS adapter over hitl_teleop.teleop_router).

Runs in the operator's namespace next to the device node: subscribes its ``teleop`` and
``/fleet/assignments``, republishes every sample on ``/<robot>/teleop`` of the operator's robot with
``operator_id`` set, drops samples while the operator has none, and sends the previous robot one
released sample when the allocator moves the operator. It beats on ``/fleet/operator_heartbeat`` while
it hears the allocator (the allocator hands robots only to operators it hears there, hitl_teleop/fleet.py
``OperatorHeartbeats`` and ``HeartbeatGate``).
"""

from __future__ import annotations

import sys
import time

from hitl_core.ros.node_main import RosImports, run_node

from hitl_teleop.nodes.fleet_heartbeat import gated_heartbeat
from hitl_teleop.teleop_router import TeleopRouter, robots_in

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node

    from hitl_msgs.msg import FleetAssignment, TeleopCommand

USAGE = """usage: teleop_router_node [--help] [--ros-args -p name:=value ...]

Fleet mode for a real teleop device: forwards the device's teleop samples to the robot the fleet
allocator assigned this operator to.

parameters:
  operator_id   (string, 'operator_0')  this operator's id in /fleet/assignments
topics: sub teleop (the device's, in this namespace), /fleet/assignments;
        pub /<robot>/teleop, /fleet/operator_heartbeat
"""


class TeleopRouterNode(Node):
    """Forwards ``teleop`` to the assigned robot's ``/<robot>/teleop`` (the module docstring)."""

    def __init__(self) -> None:
        super().__init__("teleop_router")
        self.router = TeleopRouter(str(self.declare_parameter("operator_id", "operator_0").value))
        self.pubs: dict[str, object] = {}
        self.last: dict[int, TeleopCommand] = {}  # the latest sample per arm index (for the release)
        self.create_subscription(TeleopCommand, "teleop", self.on_teleop, 50)
        self.create_subscription(FleetAssignment, "/fleet/assignments", self.on_assignments, 10)
        self.heartbeat = gated_heartbeat(self, self.router.operator_id)
        self.get_logger().info(f"{self.router.operator_id}: device samples go to the assigned robot "
                               f"(from {self.resolve_topic_name('teleop')})")

    def publisher(self, robot: str):
        if robot not in self.pubs:
            self.pubs[robot] = self.create_publisher(TeleopCommand, f"/{robot.strip('/')}/teleop", 50)
        return self.pubs[robot]

    def on_assignments(self, msg: FleetAssignment) -> None:
        self.heartbeat.heard(time.monotonic())
        for robot in robots_in((a.robot_id for a in msg.assignments), msg.waiting_robots):
            self.publisher(robot)  # made before this operator is handed the robot (robots_in)
        change = self.router.on_assignments((a.operator_id, a.robot_id, a.assigned) for a in msg.assignments)
        if change is None:
            return
        if change.released is not None:
            for sample in self.last.values():
                self.publisher(change.released).publish(self.released(sample))
        self.get_logger().info(f"{self.router.operator_id}: "
                               + (f"now driving {change.assigned}" if change.assigned else "no robot assigned")
                               + (f" (released {change.released})" if change.released else ""))

    def released(self, sample: TeleopCommand) -> TeleopCommand:
        out = TeleopCommand()
        out.header.stamp, out.header.frame_id = self.get_clock().now().to_msg(), sample.header.frame_id
        out.device, out.operator_id, out.mode = sample.device, self.router.operator_id, sample.mode
        out.arm_index, out.gripper, out.pose = sample.arm_index, sample.gripper, sample.pose
        out.engaged = out.take_over = out.pause = out.reset = False
        return out

    def on_teleop(self, msg: TeleopCommand) -> None:
        self.last[int(msg.arm_index)] = msg
        robot = self.router.route()
        if robot is None:
            return
        msg.operator_id = self.router.operator_id
        self.publisher(robot).publish(msg)

    def close(self) -> None:
        r = self.router
        print(f"teleop_router {r.operator_id}: forwarded {dict(r.forwarded)}, dropped {r.dropped} "
              "(no robot assigned)", file=sys.stderr, flush=True)


def main(args: list[str] | None = None) -> int:
    return run_node(TeleopRouterNode, args, USAGE, "teleop_router_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
