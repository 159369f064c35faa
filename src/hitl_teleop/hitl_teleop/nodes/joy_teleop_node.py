"""joy_teleop_node: sensor_msgs/Joy (from the standard joy node) -> hitl_msgs/TeleopCommand on ``teleop``.

One TeleopCommand per Joy message, stamped with the Joy message's stamp; the joy node's autorepeat
(default 20 Hz) keeps the stream alive while the pad is idle, and when the pad or the joy node goes
away the stream stops, so the arbiter's device watchdog holds the arm.
"""

from __future__ import annotations

import sys

from hitl_core.ros.node_main import run_node

from hitl_teleop.devices.joy import JoyMap, JoyMapper
from hitl_teleop.nodes.device_node_util import ROS, DeviceNode, stamp_sec

with ROS:  # device_node_util's: running the node needs ROS, run_node raises the ImportError
    from sensor_msgs.msg import Joy

USAGE = """usage: joy_teleop_node [--help] [--ros-args -p name:=value ...]

Gamepad teleop (PS3 layout by default) through the joy node's sensor_msgs/Joy.

parameters:
  config         (string, 'ps3')         bundled map name (config/devices/<name>.yaml) or a YAML path
  operator_id    (string, 'operator_0')
  arm            (string, '')            arm profile: frame_id = its base frame (franka|widowx|yumi)
  frame_id       (string, '')            overrides the arm's base frame
  joy_topic      (string, 'joy')
  no_input_warn_s (double, 2.0)          warn (one line, every 5 s) when no Joy arrives for this long
topics: sub joy (sensor_msgs/Joy); pub teleop (hitl_msgs/TeleopCommand)
buttons (ps3): hold L2 = deadman, L1 = turbo, hold R1 = take over, start = pause/resume,
               select = hard reset, cross = gripper; left stick x/y, right stick z/yaw, d-pad roll/pitch
"""


class JoyTeleopNode(DeviceNode):
    """Publishes a TeleopCommand for every Joy message (the module docstring)."""

    def __init__(self) -> None:
        super().__init__("joy_teleop", JoyMap.load, "ps3")
        self.mapper = JoyMapper(self.cfg)
        self.topic = self.declare_parameter("joy_topic", "joy").value
        self.create_subscription(Joy, self.topic, self.on_joy, 10)
        self.watch_input(self.topic, "Joy messages",
                         "is the pad connected and the joy node running (ros2 run joy joy_node)")
        topic = self.resolve_topic_name(self.topic)
        self.get_logger().info(f"joy teleop: map {self.cfg.name!r}, listening on {topic}")

    def on_joy(self, msg: Joy) -> None:
        t = stamp_sec(msg.header.stamp, self.input_seen())
        # a wrong pad for this map raises ValueError: nothing published (the arbiter holds), the shared
        # runtime counts and logs it (hitl_core/ros/runtime.py)
        self.publish(self.mapper.update(list(msg.axes), list(msg.buttons), t))


def main(args: list[str] | None = None) -> int:
    return run_node(JoyTeleopNode, args, USAGE, "joy_teleop_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
