"""keyboard_node: terminal keys -> hitl_msgs/TeleopCommand on ``teleop`` (development only).

Publishes at ``rate_hz`` whatever was typed since the last tick. Needs a terminal on stdin (run it
with ``ros2 run`` in its own terminal, not inside a launch file without a tty).
"""

from __future__ import annotations

import select
import sys
import termios
import tty

from hitl_core.ros.node_main import run_node

from hitl_teleop.devices.keyboard import HELP, KeyboardConfig, KeyboardMapper
from hitl_teleop.nodes.device_node_util import ROS, DeviceNode

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


class KeyboardNode(DeviceNode):
    """Keyboard teleop (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        if not sys.stdin.isatty():  # a setup error: one line, exit 2
            raise ValueError("stdin is not a terminal; run it in its own terminal (ros2 run ...)")
        super().__init__("keyboard_teleop", KeyboardConfig.load, "keyboard")
        self.mapper = KeyboardMapper(self.cfg)
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self.create_timer(1.0 / float(self.declare_parameter("rate_hz", 20.0).value), self.tick)
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
        sample = self.mapper.update(keys, self.now())
        if (sample.engaged, sample.take_over) != before or sample.pause or sample.reset:
            print(
                f"engaged={sample.engaged} take_over={sample.take_over} pause={sample.pause} "
                f"reset={sample.reset} gripper={sample.gripper:.0f} arm={sample.arm_index}",
                file=sys.stderr,
            )
        self.publish(sample)

    def close(self) -> None:
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def main(args: list[str] | None = None) -> int:
    return run_node(KeyboardNode, args, USAGE, "keyboard_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
