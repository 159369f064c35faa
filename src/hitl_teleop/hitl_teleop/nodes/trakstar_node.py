"""trakstar_node: trakSTAR sensor poses (geometry_msgs/PoseStamped) + clutch (sensor_msgs/Joy) -> ``teleop``.

There is no maintained ROS 2 trakSTAR driver; any driver that publishes one PoseStamped per sensor
(transmitter frame, metres) works. One TeleopCommand per pose message. The clutch comes from a Joy
topic (foot pedal / hand switch); a clutch stream older than ``clutch_timeout_s`` counts as released.
"""

from __future__ import annotations

import sys

import numpy as np
from hitl_core.ros.node_main import run_node

from hitl_teleop.devices.trakstar import TrakstarConfig, TrakstarMapper
from hitl_teleop.nodes.device_node_util import ROS, DeviceNode, stamp_sec

with ROS:  # device_node_util's: running the node needs ROS, run_node raises the ImportError
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Joy

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


class TrakstarNode(DeviceNode):
    """trakSTAR teleop (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("trakstar", TrakstarConfig.load, "trakstar")
        p = self.declare_parameter
        self.mapper = TrakstarMapper(self.cfg)
        self.pose_topic = p("pose_topic", "trakstar/pose_0").value
        self.clutch_timeout = float(p("clutch_timeout_s", 0.5).value)
        self.create_subscription(PoseStamped, self.pose_topic, self.on_pose, 10)
        self.create_subscription(Joy, p("clutch_topic", "trakstar/buttons").value, self.on_buttons, 10)
        self.buttons: list[int] = []
        self.buttons_rx = -1e9
        self.watch_input(self.pose_topic, "tracker poses", "is the trakSTAR powered and its driver running")

    def on_buttons(self, msg: Joy) -> None:
        self.buttons, self.buttons_rx = list(msg.buttons), self.now()

    def button(self, i: int) -> bool:
        fresh = self.now() - self.buttons_rx <= self.clutch_timeout
        return fresh and 0 <= i < len(self.buttons) and bool(self.buttons[i])

    def on_pose(self, msg: PoseStamped) -> None:
        received = self.input_seen()
        p, q = msg.pose.position, msg.pose.orientation
        sample = self.mapper.update(
            np.array([p.x, p.y, p.z]),
            np.array([q.x, q.y, q.z, q.w]),
            self.button(self.cfg.clutch_button),
            self.button(self.cfg.gripper_button),
            stamp_sec(msg.header.stamp, received),
        )
        self.publish(sample)


def main(args: list[str] | None = None) -> int:
    return run_node(TrakstarNode, args, USAGE, "trakstar_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
