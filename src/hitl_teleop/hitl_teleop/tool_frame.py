"""The simulator's end-effector frame on a real gripper, both ways.

``hitl_sim`` models every end effector as a fingertip point with a heading: x, y, z and a yaw about
the base z axis, yaw 0 when the fingers close along the base x axis, z up. A real gripper's TCP frame
(what the arm adapters command and what ``Observation.ee_poses`` carries) maps onto it by a fixed,
configured offset ``T_sim = T_tcp @ T(offset_xyz, offset_rpy)`` (URDF rpy). The observation bridge
reads a real pose into the simulator's (x, y, z, yaw); the arbiter turns a policy's (x, y, z, yaw)
back into a TCP pose with the inverse. In the simulator the offset is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hitl_sim.core import wrap
from scipy.spatial.transform import Rotation


def heading(R: np.ndarray) -> np.ndarray:
    """Yaw of the x axis of rotation matrices (..., 3, 3) about the base z axis."""
    return np.arctan2(R[..., 1, 0], R[..., 0, 0])


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products of quaternions (..., 4) x, y, z, w (plain numpy: scipy's Rotation costs ~100 us
    per call, and the arbiter converts on every control tick)."""
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def _unit(quaternions: np.ndarray) -> np.ndarray:
    q = np.asarray(quaternions, float).reshape(-1, 4)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


class ToolFrame:
    """``T_sim = T_tcp @ T(offset_xyz, offset_rpy)``; quaternions are x, y, z, w. ``yaw_zero``: the heading
    of the simulator frame's x axis at the policy's yaw 0 (``hitl_sim.mj.layout.yaw_zero``: 0 in the
    kinematic layout, pi/2 (+ the arm's reference) in the MuJoCo tasks')."""

    def __init__(self, offset_xyz: Sequence[float] = (0.0, 0.0, 0.0),
                 offset_rpy: Sequence[float] = (0.0, 0.0, 0.0), yaw_zero: float = 0.0) -> None:
        xyz = np.asarray(offset_xyz, float).reshape(-1)
        rpy = np.asarray(offset_rpy, float).reshape(-1)
        if xyz.size != 3 or rpy.size != 3 or not (np.all(np.isfinite(xyz)) and np.all(np.isfinite(rpy))):
            raise ValueError(f"tool offset needs 3 finite xyz and 3 finite rpy values, got {xyz} / {rpy}")
        self.xyz = xyz
        self.yaw_zero = float(yaw_zero)
        rot = Rotation.from_euler("xyz", rpy)  # URDF rpy: Rz(yaw) Ry(pitch) Rx(roll)
        self.R, self._q = rot.as_matrix(), rot.as_quat()
        self._q_inv = self._q * np.array([-1.0, -1.0, -1.0, 1.0])
        self.offset = np.eye(4)  # T(offset_xyz, offset_rpy)
        self.offset[:3, :3], self.offset[:3, 3] = self.R, xyz
        self.is_identity = bool(np.allclose(xyz, 0.0) and np.allclose(self.R, np.eye(3)))

    # real TCP -> simulator
    def sim_yaw(self, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n,) simulator yaw of TCP orientations (n, 4), wrapped to (-pi, pi]."""
        x, y, z, w = np.moveaxis(_qmul(_unit(tcp_quaternions), self._q), -1, 0)  # R_tcp @ R_offset
        heading_x = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))  # heading of its x axis
        return wrap(heading_x - self.yaw_zero)

    def sim_positions(self, tcp_positions: np.ndarray, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n, 3) simulator points of TCP poses."""
        return np.asarray(tcp_positions, float).reshape(-1, 3) + self._offset_in_base(tcp_quaternions)

    # simulator -> real TCP
    def tcp_quaternions(self, yaw: np.ndarray) -> np.ndarray:
        """(n, 4) TCP orientations whose simulator frame is level with heading ``yaw``."""
        half = (np.asarray(yaw, float).reshape(-1) + self.yaw_zero) / 2
        z_turn = np.stack([np.zeros_like(half), np.zeros_like(half), np.sin(half), np.cos(half)], axis=1)
        return _qmul(z_turn, self._q_inv)  # R_z(yaw) @ R_offset^T

    def tcp_positions(self, sim_positions: np.ndarray, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n, 3) TCP positions that put the simulator point at ``sim_positions``."""
        return np.asarray(sim_positions, float).reshape(-1, 3) - self._offset_in_base(tcp_quaternions)

    def _offset_in_base(self, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n, 3) R_tcp @ offset_xyz (zero without a translation offset, the usual case)."""
        q = _unit(tcp_quaternions)
        if not self.xyz.any():
            return np.zeros((len(q), 3))
        return Rotation.from_quat(q).apply(self.xyz)
