"""Build an arm adapter whose limits come from the shared arm profile (hitl_sim/config/arms/*.yaml)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from hitl_sim.arms import load_arm_profile

from hitl_teleop.adapters.franka import FrankaAdapter, FrankaConfig
from hitl_teleop.adapters.widowx import WidowXAdapter, WidowXConfig
from hitl_teleop.adapters.yumi import YuMiAdapter, YuMiConfig

ADAPTERS = ("franka", "widowx", "yumi")


def _apply(cfg: Any, overrides: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cfg)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {type(cfg).__name__} settings: {unknown} (known: {sorted(known)})")
    return replace(cfg, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()})


def build_adapter(
    arm: str, overrides: dict[str, Any] | None = None
) -> FrankaAdapter | WidowXAdapter | YuMiAdapter:
    """``arm`` in ADAPTERS; the profile's workspace box (and base frame, gripper width, tick) are defaults."""
    if arm not in ADAPTERS:
        raise ValueError(f"unknown arm {arm!r}: expected one of {ADAPTERS}")
    prof = load_arm_profile(arm)
    box = {
        "workspace_min": tuple(prof.workspace_min.tolist()),
        "workspace_max": tuple(prof.workspace_max.tolist()),
    }
    overrides = dict(overrides or {})
    if arm == "franka":
        cfg = replace(
            FrankaConfig(),
            base_frame=prof.base_frame,
            gripper_max_width=prof.gripper_max_width,
            max_step=2 * prof.max_step(),
            max_rotation_step=2 * prof.max_angular_speed * prof.dt,
            **box,
        )
        return FrankaAdapter(_apply(cfg, overrides))
    if arm == "widowx":
        return WidowXAdapter(_apply(replace(WidowXConfig(), **box), overrides))
    cfg = replace(
        YuMiConfig(),
        base_frame=prof.base_frame,
        gripper_max_width=prof.gripper_max_width,
        time_from_start=prof.dt,
        **box,
    )
    return YuMiAdapter(_apply(cfg, overrides))
