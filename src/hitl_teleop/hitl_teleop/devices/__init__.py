"""Teleop devices: pure mappers from raw device input to TeleopSample (no rclpy here)."""

from hitl_teleop.devices.common import DEVICE_NAMES, EdgeDetector, TeleopSample, to_msg

__all__ = ["DEVICE_NAMES", "EdgeDetector", "TeleopSample", "to_msg"]
