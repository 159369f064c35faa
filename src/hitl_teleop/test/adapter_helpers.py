"""Shared helpers for the adapter tests (not a test module)."""

import numpy as np
from hitl_teleop.adapters.base import ArmCommandData
from scipy.spatial.transform import Rotation


def grid(lo, hi, n):
    axes = [np.linspace(a, b, n) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def command(frame, positions, rotations, gripper=None, hold=False, stamp=1.0):
    rots = [r if isinstance(r, Rotation) else Rotation.from_matrix(r) for r in rotations]
    return ArmCommandData(
        stamp=stamp,
        frame_id=frame,
        hold=hold,
        positions=[np.asarray(p, float) for p in positions],
        quaternions=[r.as_quat() for r in rots],
        gripper=list(gripper) if gripper is not None else [0.0] * len(positions),
    )
