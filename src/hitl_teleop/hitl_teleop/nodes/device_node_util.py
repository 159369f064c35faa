"""What the device and arm-adapter nodes share: the frame id rule, header stamps in seconds, and
``DeviceNode``, the base of the teleop device nodes (joy, SpaceMouse, trakSTAR)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitl_core.ros.node_main import RosImports

from hitl_teleop.devices.common import to_msg

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # the nodes' run_node raises their ImportError
    from rclpy.node import Node

    from hitl_msgs.msg import TeleopCommand

INPUT_CHECK_S = 0.5  # how often a silent input is looked for


def frame_id_for(arm: str, frame_id: str) -> str:
    """An explicit frame id wins; else the arm profile's base frame; else ''."""
    if frame_id:
        return frame_id
    if arm:
        from hitl_sim.arms import load_arm_profile

        return load_arm_profile(arm).base_frame
    return ""


def stamp_sec(stamp: Any, fallback: float) -> float:
    t = stamp.sec + stamp.nanosec * 1e-9
    return t if t > 0 else fallback


class DeviceNode(Node):
    """A teleop device node: ``cfg``, the device config the ``config`` parameter names (bundled name or
    YAML path) with the ``operator_id``, ``arm`` and ``frame_id`` parameters applied; ``publish`` of a
    TeleopSample on ``teleop``; ``now()`` in seconds; ``watch_input``, a warning while the input is silent."""

    def __init__(self, name: str, load_config: Callable[[str], Any], default_config: str) -> None:
        super().__init__(name)
        p = self.declare_parameter
        cfg = load_config(p("config", default_config).value)
        cfg.operator_id = p("operator_id", cfg.operator_id).value
        cfg.frame_id = frame_id_for(p("arm", "").value, p("frame_id", "").value)
        self.cfg = cfg
        self.pub = self.create_publisher(TeleopCommand, "teleop", 10)
        self.last_input = self.now()

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def publish(self, sample: Any) -> None:
        self.pub.publish(to_msg(sample, TeleopCommand))

    def watch_input(self, topic: str, what: str, hint: str) -> None:
        """Warn (one line, every 5 s at most) while nothing arrived on ``topic`` for ``no_input_warn_s``
        (parameter, 2 s); the input callback calls ``input_seen``."""
        warn_s = float(self.declare_parameter("no_input_warn_s", 2.0).value)

        def check() -> None:
            age = self.now() - self.last_input
            if age > warn_s:
                self.get_logger().warn(f"no {what} on {self.resolve_topic_name(topic)} for {age:.0f} s: {hint}? "
                                       "waiting", throttle_duration_sec=5.0)

        self.create_timer(INPUT_CHECK_S, check)

    def input_seen(self) -> float:
        """Note an input's arrival; returns its time (s)."""
        self.last_input = self.now()
        return self.last_input


__all__ = ["DeviceNode", "frame_id_for", "stamp_sec"]
