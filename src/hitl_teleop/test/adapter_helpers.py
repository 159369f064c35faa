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


def assert_jacobian_matches_finite_differences(chain, q, atol: float, eps: float = 1e-6) -> None:
    """``chain.fk_and_jacobian(q)``'s Jacobian (linear rows, then angular) against finite differences of fk."""
    T, J = chain.fk_and_jacobian(q)
    for i in range(chain.dof):
        dq = np.zeros(chain.dof)
        dq[i] = eps
        T2 = chain.fk(q + dq)
        np.testing.assert_allclose((T2[:3, 3] - T[:3, 3]) / eps, J[:3, i], atol=atol)
        w = Rotation.from_matrix(T2[:3, :3] @ T[:3, :3].T).as_rotvec() / eps
        np.testing.assert_allclose(w, J[3:, i], atol=atol)
