"""joy_teleop_node: sensor_msgs/Joy (from the standard joy node) -> hitl_msgs/TeleopCommand on ``teleop``.

One TeleopCommand per Joy message, stamped with the Joy message's stamp; the joy node's autorepeat
(default 20 Hz) keeps the stream alive while the pad is idle, and when the pad or the joy node goes
away the stream stops, so the arbiter's device watchdog holds the arm.
"""

from __future__ import annotations

import sys

from hitl_teleop.devices.common import to_msg
from hitl_teleop.devices.joy import JoyMap, JoyMapper
from hitl_teleop.nodes.device_node_util import frame_id_for, spin, stamp_sec, wants_help

try:  # running the node needs ROS; --help and importing this module do not
    from rclpy.node import Node
    from sensor_msgs.msg import Joy

    from hitl_msgs.msg import TeleopCommand
except ImportError as _exc:  # workspace not built / not sourced: main() raises it after --help
    Node, ROS_IMPORT_ERROR = object, _exc
else:
    ROS_IMPORT_ERROR = None

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


class JoyTeleopNode(Node):
    """Publishes a TeleopCommand for every Joy message (the module docstring)."""

    def __init__(self) -> None:
        super().__init__("joy_teleop")
        p = self.declare_parameter
        jm = JoyMap.load(p("config", "ps3").value)
        jm.operator_id = p("operator_id", jm.operator_id).value
        jm.frame_id = frame_id_for(p("arm", "").value, p("frame_id", "").value)
        self.mapper = JoyMapper(jm)
        self.warn_s = float(p("no_input_warn_s", 2.0).value)
        self.topic = p("joy_topic", "joy").value
        self.pub = self.create_publisher(TeleopCommand, "teleop", 10)
        self.create_subscription(Joy, self.topic, self.on_joy, 10)
        self.last_rx = self.now()
        self.create_timer(0.5, self.check_input)
        topic = self.resolve_topic_name(self.topic)
        self.get_logger().info(f"joy teleop: map {jm.name!r}, listening on {topic}")

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_joy(self, msg: Joy) -> None:
        self.last_rx = self.now()
        t = stamp_sec(msg.header.stamp, self.last_rx)
        # a wrong pad for this map raises ValueError: nothing published (the arbiter holds), the shared
        # runtime counts and logs it (nodes/runtime.py)
        sample = self.mapper.update(list(msg.axes), list(msg.buttons), t)
        self.pub.publish(to_msg(sample, TeleopCommand))

    def check_input(self) -> None:
        age = self.now() - self.last_rx
        if age > self.warn_s:
            self.get_logger().warn(
                f"no Joy messages on {self.resolve_topic_name(self.topic)} for {age:.0f} s: is the pad "
                "connected and the joy node running (ros2 run joy joy_node)? waiting",
                throttle_duration_sec=5.0,
            )


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    if wants_help(argv, USAGE):
        return 0
    if ROS_IMPORT_ERROR is not None:
        raise ROS_IMPORT_ERROR
    return spin(JoyTeleopNode, argv, "joy_teleop_node")


if __name__ == "__main__":
    sys.exit(main())
