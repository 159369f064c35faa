"""Action rows (one row of an action chunk, one expert action) split into and joined from their parts.

Layout per end effector: [x, y, z, yaw, gripper] (hitl_sim's), [x, y, z, gripper] or [x, y, z].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ActionParts:
    positions: np.ndarray  # (n_arms, 3)
    yaw: np.ndarray | None  # (n_arms,) rotation about the base z axis [rad]
    gripper: np.ndarray | None  # (n_arms,)


def split_action(action: np.ndarray, n_arms: int) -> ActionParts:
    """Positions, yaw and gripper from one action row (5, 4 or 3 values per end effector)."""
    a = np.asarray(action, float).reshape(-1)
    if a.size not in (5 * n_arms, 4 * n_arms, 3 * n_arms):
        raise ValueError(
            f"action has {a.size} values; expected {5 * n_arms} (x,y,z,yaw,gripper per arm), "
            f"{4 * n_arms} (x,y,z,gripper) or {3 * n_arms} (x,y,z)"
        )
    rows = a.reshape(n_arms, -1)
    width = rows.shape[1]
    return ActionParts(
        rows[:, :3].copy(),
        rows[:, 3].copy() if width == 5 else None,
        rows[:, -1].copy() if width >= 4 else None,
    )


def yaw_to_quat(yaw: np.ndarray) -> np.ndarray:
    """(n, 4) quaternions (x, y, z, w) of rotations by `yaw` about the base z axis."""
    yaw = np.asarray(yaw, float).reshape(-1)
    return np.stack([np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)


def join_action(positions: np.ndarray, yaw: np.ndarray, gripper: np.ndarray, width: int = 5) -> np.ndarray:
    """One action row in the layout of `split_action` (width 5, 4 or 3 per end effector)."""
    cols = [np.asarray(positions, float)]
    if width == 5:
        cols.append(np.asarray(yaw, float).reshape(-1, 1))
    if width >= 4:
        cols.append(np.asarray(gripper, float)[:, None])
    return np.concatenate(cols, axis=1).reshape(-1)
