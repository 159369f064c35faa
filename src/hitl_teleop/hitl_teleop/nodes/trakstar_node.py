"""trakstar_node: trakSTAR sensor poses (geometry_msgs/PoseStamped) + clutch (sensor_msgs/Joy) -> ``teleop``.

There is no maintained ROS 2 trakSTAR driver; any driver that publishes one PoseStamped per sensor
(transmitter frame, metres) works. One TeleopCommand per pose message. The clutch comes from a Joy
topic (foot pedal / hand switch); a clutch stream older than ``clutch_timeout_s`` counts as released.
"""

from __future__ import annotations

import sys

import numpy as np

from hitl_teleop.devices.common import to_msg
from hitl_teleop.devices.trakstar import TrakstarConfig, TrakstarMapper
from hitl_teleop.nodes.device_node_util import frame_id_for, spin, stamp_sec, wants_help

try:  # running the node needs ROS; --help and importing this module do not
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from sensor_msgs.msg import Joy

    from hitl_msgs.msg import TeleopCommand
except ImportError as _exc:  # workspace not built / not sourced: main() raises it after --help
    Node, ROS_IMPORT_ERROR = object, _exc
else:
    ROS_IMPORT_ERROR = None

USAGE = """usage: trakstar_node [--help] [--ros-args -p name:=value ...]

trakSTAR teleop: while the clutch is held the arm follows the sensor's motion since the press
(re-anchored at every press), rotated into the arm base frame and rate-limited.

parameters:
  config           (string, 'trakstar')          bundled config or a YAML path
  pose_topic       (string, 'trakstar/pose_0')    geometry_msgs/PoseStamped of the sensor
  clutch_topic     (string, 'trakstar/buttons')   sensor_msgs/Joy: clutch_button, gripper_button
  clutch_timeout_s (double, 0.5)
  operator_id      (string, 'operator_0')
  arm              (string, '')                   arm profile: frame_id = its base frame
  frame_id         (string, '')
  no_input_warn_s  (double, 2.0)
topics: sub pose_topic, clutch_topic; pub teleop (hitl_msgs/TeleopCommand)
"""


class TrakstarNode(Node):
    """trakSTAR teleop (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("trakstar")
        p = self.declare_parameter
        cfg = TrakstarConfig.load(p("config", "trakstar").value)
        cfg.operator_id = p("operator_id", cfg.operator_id).value
        cfg.frame_id = frame_id_for(p("arm", "").value, p("frame_id", "").value)
        self.cfg = cfg
        self.mapper = TrakstarMapper(cfg)
        self.pose_topic = p("pose_topic", "trakstar/pose_0").value
        self.clutch_timeout = float(p("clutch_timeout_s", 0.5).value)
        self.warn_s = float(p("no_input_warn_s", 2.0).value)
        self.pub = self.create_publisher(TeleopCommand, "teleop", 10)
        self.create_subscription(PoseStamped, self.pose_topic, self.on_pose, 10)
        self.create_subscription(Joy, p("clutch_topic", "trakstar/buttons").value, self.on_buttons, 10)
        self.buttons: list[int] = []
        self.buttons_rx = -1e9
        self.pose_rx = self.now()
        self.create_timer(0.5, self.check_input)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_buttons(self, msg: Joy) -> None:
        self.buttons, self.buttons_rx = list(msg.buttons), self.now()

    def button(self, i: int) -> bool:
        fresh = self.now() - self.buttons_rx <= self.clutch_timeout
        return fresh and 0 <= i < len(self.buttons) and bool(self.buttons[i])

    def on_pose(self, msg: PoseStamped) -> None:
        self.pose_rx = self.now()
        p, q = msg.pose.position, msg.pose.orientation
        sample = self.mapper.update(
            np.array([p.x, p.y, p.z]),
            np.array([q.x, q.y, q.z, q.w]),
            self.button(self.cfg.clutch_button),
            self.button(self.cfg.gripper_button),
            stamp_sec(msg.header.stamp, self.pose_rx),
        )
        self.pub.publish(to_msg(sample, TeleopCommand))

    def check_input(self) -> None:
        age = self.now() - self.pose_rx
        if age > self.warn_s:
            self.get_logger().warn(
                f"no tracker poses on {self.resolve_topic_name(self.pose_topic)} for {age:.0f} s: is the "
                "trakSTAR powered and its driver running? waiting",
                throttle_duration_sec=5.0,
            )


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    if wants_help(argv, USAGE):
        return 0
    if ROS_IMPORT_ERROR is not None:
        raise ROS_IMPORT_ERROR
    return spin(TrakstarNode, argv, "trakstar_node")


if __name__ == "__main__":
    sys.exit(main())
