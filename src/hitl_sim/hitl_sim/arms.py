"""Arm profiles (YAML data shared by the simulator, the arbiter's safety limits and launch configs)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

ARM_NAMES = ("widowx", "franka", "yumi")


@dataclass(frozen=True)
class ArmProfile:
    name: str
    description: str
    base_frame: str
    ee_frames: tuple[str, ...]
    dof_per_arm: int
    n_arms: int
    control_rate_hz: float
    workspace_min: np.ndarray   # (3,) metres, base frame
    workspace_max: np.ndarray   # (3,)
    max_linear_speed: float     # m/s per end effector
    max_angular_speed: float    # rad/s
    gripper_max_width: float    # metres
    home: np.ndarray            # (n_arms, 3)

    @property
    def dt(self) -> float:
        return 1.0 / self.control_rate_hz

    def max_step(self) -> float:
        """Largest end-effector translation per control tick (metres)."""
        return self.max_linear_speed * self.dt


def profile_path(name: str) -> Path:
    return Path(str(resources.files("hitl_sim") / "config" / "arms" / f"{name}.yaml"))


def load_arm_profile(name_or_path: str) -> ArmProfile:
    path = Path(name_or_path) if name_or_path.endswith(".yaml") else profile_path(name_or_path)
    if not path.exists():
        raise ValueError(f"unknown arm {name_or_path!r}: expected one of {ARM_NAMES} or a YAML path")
    raw = yaml.safe_load(path.read_text())
    return ArmProfile(
        name=raw["name"], description=raw.get("description", ""), base_frame=raw["base_frame"],
        ee_frames=tuple(raw["ee_frames"]), dof_per_arm=int(raw["dof_per_arm"]), n_arms=int(raw["n_arms"]),
        control_rate_hz=float(raw["control_rate_hz"]),
        workspace_min=np.asarray(raw["workspace_min"], float), workspace_max=np.asarray(raw["workspace_max"], float),
        max_linear_speed=float(raw["max_linear_speed"]), max_angular_speed=float(raw["max_angular_speed"]),
        gripper_max_width=float(raw["gripper_max_width"]), home=np.asarray(raw["home"], float).reshape(-1, 3),
    )
