"""keyboard_node: terminal keys -> hitl_msgs/TeleopCommand on ``teleop`` (development only).

Publishes at ``rate_hz`` whatever was typed since the last tick. Needs a terminal on stdin (run it
with ``ros2 run`` in its own terminal, not inside a launch file without a tty).
"""

from __future__ import annotations

import sys

from hitl_core.ros.runtime import wants_help

from hitl_teleop.devices.keyboard import HELP

USAGE = f"""usage: keyboard_node [--help] [--ros-args -p name:=value ...]

Keyboard teleop for development.
{HELP}

parameters:
  config      (string, 'keyboard')   bundled config or a YAML path (linear_step, angular_step)
  rate_hz     (double, 20.0)
  operator_id (string, 'operator_0')
  arm         (string, '')           arm profile: frame_id = its base frame
  frame_id    (string, '')
topics: pub teleop (hitl_msgs/TeleopCommand)
"""


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    if wants_help(argv, USAGE):
        return 0
    if not sys.stdin.isatty():
        print(
            "keyboard_node: stdin is not a terminal; run it in its own terminal (ros2 run ...)",
            file=sys.stderr,
        )
        return 2

    import select
    import termios
    import tty

    from hitl_core.ros.runtime import spin
    from rclpy.node import Node

    from hitl_msgs.msg import TeleopCommand
    from hitl_teleop.devices.common import device_config_path, load_yaml, to_msg
    from hitl_teleop.devices.keyboard import KeyboardConfig, KeyboardMapper
    from hitl_teleop.nodes.device_node_util import frame_id_for

    class KeyboardNode(Node):
        def __init__(self) -> None:
            super().__init__("keyboard_teleop")
            p = self.declare_parameter
            raw = load_yaml(device_config_path(p("config", "keyboard").value))
            cfg = KeyboardConfig(
                linear_step=float(raw.get("linear_step", 0.01)),
                angular_step=float(raw.get("angular_step", 0.05)),
                operator_id=p("operator_id", "operator_0").value,
                frame_id=frame_id_for(p("arm", "").value, p("frame_id", "").value),
            )
            self.mapper = KeyboardMapper(cfg)
            self.pub = self.create_publisher(TeleopCommand, "teleop", 10)
            self.fd = sys.stdin.fileno()
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
            self.create_timer(1.0 / float(p("rate_hz", 20.0).value), self.tick)
            print(HELP, file=sys.stderr)

        def tick(self) -> None:
            keys = ""
            while select.select([self.fd], [], [], 0)[0]:
                ch = sys.stdin.read(1)
                if not ch:
                    break
                keys += ch
            if "h" in keys:
                print(HELP, file=sys.stderr)
            before = (self.mapper.engaged, self.mapper.take_over)
            sample = self.mapper.update(keys, self.get_clock().now().nanoseconds * 1e-9)
            if (sample.engaged, sample.take_over) != before or sample.pause or sample.reset:
                print(
                    f"engaged={sample.engaged} take_over={sample.take_over} pause={sample.pause} "
                    f"reset={sample.reset} gripper={sample.gripper:.0f} arm={sample.arm_index}",
                    file=sys.stderr,
                )
            self.pub.publish(to_msg(sample, TeleopCommand))

        def close(self) -> None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    return spin(KeyboardNode, argv, "keyboard_node")


if __name__ == "__main__":
    sys.exit(main())
