"""Small helpers shared by the device and arm-adapter nodes (``wants_help``/``spin`` live in
hitl_core.ros.runtime, shared by every node)."""

from __future__ import annotations

from typing import Any

from hitl_core.ros.runtime import spin, wants_help


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

__all__ = ["frame_id_for", "spin", "stamp_sec", "wants_help"]
