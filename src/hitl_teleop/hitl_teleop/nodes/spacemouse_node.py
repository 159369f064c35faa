"""spacemouse_node: a 3Dconnexion SpaceMouse -> hitl_msgs/TeleopCommand on ``teleop``.

Reads the device through pyspacemouse (needs Debian's libhidapi-hidraw0 and read access to the
hidraw device) at ``rate_hz``, or, with ``source:=spacenav``, the spacenav driver's ``spacenav/joy``.
No device: one clear line, retried every ``retry_s``; nothing is published meanwhile, so an unplug
mid-episode trips the arbiter's device watchdog and the arm holds.
"""

from __future__ import annotations

import contextlib
import sys

from hitl_core.ros.node_main import run_node

from hitl_teleop.devices.spacemouse import SpaceMouseConfig, SpaceMouseMapper
from hitl_teleop.nodes.device_node_util import ROS, DeviceNode, stamp_sec

with ROS:  # device_node_util's: running the node needs ROS, run_node raises the ImportError
    from sensor_msgs.msg import Joy

USAGE = """usage: spacemouse_node [--help] [--ros-args -p name:=value ...]

SpaceMouse teleop: 6-DoF relative motion (deadband, scaling); hold the left button to intervene
(engaged + take_over while held), the right button toggles the gripper.

parameters:
  config      (string, 'spacemouse')  bundled config (config/devices/<name>.yaml) or a YAML path
  source      (string, 'pyspacemouse') pyspacemouse | spacenav (sub spacenav/joy instead)
  device      (string, '')            pyspacemouse device name ('' = first one found)
  operator_id (string, 'operator_0')
  arm         (string, '')            arm profile: frame_id = its base frame
  frame_id    (string, '')            overrides the arm's base frame
  retry_s     (double, 2.0)           retry period while no device is found
topics: pub teleop (hitl_msgs/TeleopCommand); sub spacenav/joy (sensor_msgs/Joy) with source:=spacenav
"""


class SpaceMouseNode(DeviceNode):
    """SpaceMouse teleop (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("spacemouse", SpaceMouseConfig.load, "spacemouse")
        p = self.declare_parameter
        cfg = self.cfg
        self.mapper = SpaceMouseMapper(cfg)
        self.source = p("source", "pyspacemouse").value
        self.device_name = p("device", "").value or None
        self.retry_s = float(p("retry_s", 2.0).value)
        self.device = None
        self.next_try = 0.0
        self.reported = ""
        if self.source == "spacenav":
            self.create_subscription(Joy, "spacenav/joy", self.on_spacenav, 10)
            self.get_logger().info("spacemouse: reading spacenav/joy (spacenav_node)")
        elif self.source == "pyspacemouse":
            self.create_timer(1.0 / cfg.rate_hz, self.poll)
        else:
            raise ValueError(f"source must be 'pyspacemouse' or 'spacenav', got {self.source!r}")

    def report(self, text: str) -> None:
        """One line per distinct problem (not one per retry)."""
        if text != self.reported:
            self.get_logger().error(text)
            self.reported = text

    def open_device(self) -> None:
        try:
            import pyspacemouse
            from pyspacemouse import AxisConvention
        except ImportError as exc:
            self.report(f"pyspacemouse is not importable ({exc}): pip install pyspacemouse; retrying")
            return
        try:
            conv = AxisConvention(self.cfg.axis_convention)
            self.device = pyspacemouse.open(device=self.device_name, axis_convention=conv)
        except Exception as exc:  # hid / pyspacemouse raise several kinds
            self.device = None
            self.report(
                f"no SpaceMouse: {exc} (plugged in? libhidapi-hidraw0 installed? hidraw readable?); "
                f"retrying every {self.retry_s:.0f} s"
            )
            return
        self.reported = ""
        self.get_logger().info("SpaceMouse opened")

    def poll(self) -> None:
        t = self.now()
        if self.device is None:
            if t >= self.next_try:
                self.next_try = t + self.retry_s
                self.open_device()
            return
        try:
            state = self.device.read()
        except Exception as exc:  # unplugged mid-episode: stop publishing, retry
            self.report(
                f"SpaceMouse read failed ({exc}): device lost, retrying every {self.retry_s:.0f} s"
            )
            self.close()
            self.next_try = t + self.retry_s
            return
        self.publish(self.mapper.update(state, t))

    def on_spacenav(self, msg: Joy) -> None:
        t = stamp_sec(msg.header.stamp, self.now())
        # a malformed message raises ValueError: nothing published, the shared runtime counts and logs it
        self.publish(self.mapper.update_spacenav(list(msg.axes), list(msg.buttons), t))

    def close(self) -> None:
        if self.device is not None:
            with contextlib.suppress(Exception):  # already gone
                self.device.close()
            self.device = None


def main(args: list[str] | None = None) -> int:
    return run_node(SpaceMouseNode, args, USAGE, "spacemouse_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
