"""ROS messages -> the plain data the console page draws (duck-typed: no rclpy import needed)."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

SHAPES = {1: "box", 2: "sphere", 3: "cylinder"}  # visualization_msgs/Marker CUBE, SPHERE, CYLINDER


def _yaw(q: Any) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def marker_items(msg: Any) -> list[dict[str, Any]]:
    """MarkerArray -> [{shape, ns, p: [x y z], s: [sx sy sz], yaw, c: [r g b a]}] (boxes, spheres,
    cylinders; other marker types and DELETE actions are skipped)."""
    out = []
    for m in msg.markers:
        if int(m.action) != 0 or int(m.type) not in SHAPES:
            continue
        p = m.pose.position
        out.append({"shape": SHAPES[int(m.type)], "ns": str(m.ns),
                    "p": [round(p.x, 4), round(p.y, 4), round(p.z, 4)],
                    "s": [round(m.scale.x, 4), round(m.scale.y, 4), round(m.scale.z, 4)],
                    "yaw": round(_yaw(m.pose.orientation), 4),
                    "c": [round(m.color.r, 3), round(m.color.g, 3), round(m.color.b, 3), round(m.color.a, 3)]})
    return out


def observation_ee(msg: Any) -> list[list[float]]:
    """Observation -> per end effector [x, y, z, yaw, gripper]."""
    grip = list(msg.gripper)
    return [[p.position.x, p.position.y, p.position.z, _yaw(p.orientation), grip[i] if i < len(grip) else 0.0]
            for i, p in enumerate(msg.ee_poses)]


def image_jpeg_b64(msg: Any, max_width: int = 480) -> str:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> base64 JPEG, scaled to ``max_width``."""
    import cv2

    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
    enc = str(msg.encoding)
    if enc not in channels:
        raise ValueError(f"image encoding {enc!r} not supported (rgb8, bgr8, rgba8, bgra8, mono8)")
    c = channels[enc]
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size < msg.height * msg.step:
        raise ValueError(f"image has {data.size} bytes, expected {msg.height * msg.step}")
    img = data[: msg.height * msg.step].reshape(msg.height, msg.step)[:, : msg.width * c].reshape(
        msg.height, msg.width, c)
    conv = {"rgb8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGBA2BGR, "bgra8": cv2.COLOR_BGRA2BGR}.get(enc)
    if conv is not None:
        img = cv2.cvtColor(img, conv)
    if msg.width > max_width:
        img = cv2.resize(img, (max_width, int(msg.height * max_width / msg.width)))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return base64.b64encode(buf.tobytes()).decode()
