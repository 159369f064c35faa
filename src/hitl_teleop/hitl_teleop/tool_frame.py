"""The simulator's end-effector frame on a real gripper, both ways.

``hitl_sim`` models every end effector as a fingertip point with a heading: x, y, z and a yaw about
the base z axis, yaw 0 when the fingers close along the base x axis, z up. A real gripper's TCP frame
(what the arm adapters command and what ``Observation.ee_poses`` carries) maps onto it by a fixed,
configured offset ``T_sim = T_tcp @ T(offset_xyz, offset_rpy)`` (URDF rpy). The observation bridge
reads a real pose into the simulator's (x, y, z, yaw); the arbiter turns a policy's (x, y, z, yaw)
back into a TCP pose with the inverse. In the simulator the offset is the identity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation


def heading(R: np.ndarray) -> np.ndarray:
    """Yaw of the x axis of rotation matrices (..., 3, 3) about the base z axis."""
    return np.arctan2(R[..., 1, 0], R[..., 0, 0])


class ToolFrame:
    """``T_sim = T_tcp @ T(offset_xyz, offset_rpy)``; quaternions are x, y, z, w."""

    def __init__(self, offset_xyz: Sequence[float] = (0.0, 0.0, 0.0),
                 offset_rpy: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        xyz = np.asarray(offset_xyz, float).reshape(-1)
        rpy = np.asarray(offset_rpy, float).reshape(-1)
        if xyz.size != 3 or rpy.size != 3 or not (np.all(np.isfinite(xyz)) and np.all(np.isfinite(rpy))):
            raise ValueError(f"tool offset needs 3 finite xyz and 3 finite rpy values, got {xyz} / {rpy}")
        self.xyz = xyz
        self.R = Rotation.from_euler("xyz", rpy).as_matrix()  # URDF rpy: Rz(yaw) Ry(pitch) Rx(roll)
        self.offset = np.eye(4)  # T(offset_xyz, offset_rpy)
        self.offset[:3, :3], self.offset[:3, 3] = self.R, xyz
        self.is_identity = bool(np.allclose(xyz, 0.0) and np.allclose(self.R, np.eye(3)))

    # real TCP -> simulator
    def sim_pose(self, T_tcp: np.ndarray) -> np.ndarray:
        """The simulator frame (4, 4) of a TCP pose (4, 4)."""
        return T_tcp @ self.offset

    def sim_yaw(self, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n,) simulator yaw of TCP orientations (n, 4), wrapped to (-pi, pi]."""
        R_tcp = Rotation.from_quat(np.asarray(tcp_quaternions, float).reshape(-1, 4)).as_matrix()
        yaw = heading(R_tcp @ self.R)
        return math.pi - np.mod(math.pi - yaw, 2 * math.pi)

    def sim_positions(self, tcp_positions: np.ndarray, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n, 3) simulator points of TCP poses."""
        R_tcp = Rotation.from_quat(np.asarray(tcp_quaternions, float).reshape(-1, 4)).as_matrix()
        return np.asarray(tcp_positions, float).reshape(-1, 3) + R_tcp @ self.xyz

    # simulator -> real TCP
    def tcp_quaternions(self, yaw: np.ndarray) -> np.ndarray:
        """(n, 4) TCP orientations whose simulator frame is level with heading ``yaw``."""
        Rz = Rotation.from_euler("z", np.asarray(yaw, float).reshape(-1, 1)).as_matrix()
        return Rotation.from_matrix(Rz @ self.R.T).as_quat()

    def tcp_positions(self, sim_positions: np.ndarray, tcp_quaternions: np.ndarray) -> np.ndarray:
        """(n, 3) TCP positions that put the simulator point at ``sim_positions``."""
        R_tcp = Rotation.from_quat(np.asarray(tcp_quaternions, float).reshape(-1, 4)).as_matrix()
        return np.asarray(sim_positions, float).reshape(-1, 3) - R_tcp @ self.xyz
