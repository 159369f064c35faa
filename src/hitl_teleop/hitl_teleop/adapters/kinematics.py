"""Serial-chain kinematics from a (subset of) URDF: forward kinematics and the geometric Jacobian.

Only what IK needs: fixed and revolute joints with <origin xyz rpy>, <axis> and <limit>. Meshes,
inertias and everything else in the URDF are ignored. Pure numpy (see docs/arms.md for why not
Pinocchio: the `pin` wheel pulls cmeel-boost, coal and libpinocchio, hundreds of MB, for three chains
of at most 7 joints).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation


def rpy_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """URDF rpy: fixed-axis roll (x), pitch (y), yaw (z), i.e. R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return Rotation.from_euler("xyz", rpy).as_matrix()


def transform(xyz: np.ndarray, R: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = xyz
    return T


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    x, y, z = axis
    c, s = np.cos(angle), np.sin(angle)
    C = 1.0 - c
    return np.array(
        [
            [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
            [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
            [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
        ]
    )


@dataclass(frozen=True)
class Joint:
    name: str
    kind: str  # "revolute" or "fixed"
    parent: str
    child: str
    origin: np.ndarray  # 4x4, parent -> joint frame at q = 0
    axis: np.ndarray  # unit axis in the joint frame
    lower: float
    upper: float
    velocity: float  # rad/s limit (0 = unknown)


@dataclass(frozen=True)
class Chain:
    """The joints from ``base`` to ``tip`` (fixed ones included, in order)."""

    base: str
    tip: str
    joints: tuple[Joint, ...]

    @property
    def actuated(self) -> tuple[Joint, ...]:
        return tuple(j for j in self.joints if j.kind == "revolute")

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.actuated)

    @property
    def dof(self) -> int:
        return len(self.actuated)

    @property
    def lower(self) -> np.ndarray:
        return np.array([j.lower for j in self.actuated])

    @property
    def upper(self) -> np.ndarray:
        return np.array([j.upper for j in self.actuated])

    @property
    def velocity_limits(self) -> np.ndarray:
        return np.array([j.velocity for j in self.actuated])

    @property
    def max_reach(self) -> float:
        """Upper bound on the tip's distance from the first actuated joint's origin (sum of link offsets)."""
        seen = False
        total = 0.0
        for j in self.joints:
            if seen:
                total += float(np.linalg.norm(j.origin[:3, 3]))
            seen = seen or j.kind == "revolute"
        return total

    def first_joint_origin(self) -> np.ndarray:
        T = np.eye(4)
        for j in self.joints:
            T = T @ j.origin
            if j.kind == "revolute":
                break
        return T[:3, 3]

    def within_limits(self, q: np.ndarray, tol: float = 1e-9) -> bool:
        q = np.asarray(q, float)
        return bool(np.all(q >= self.lower - tol) and np.all(q <= self.upper + tol))

    def _frames(self, q: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        q = np.asarray(q, float)
        if q.shape != (self.dof,):
            raise ValueError(f"chain {self.base}->{self.tip} has {self.dof} joints, got q of shape {q.shape}")
        T = np.eye(4)
        joint_frames: list[np.ndarray] = []
        i = 0
        for j in self.joints:
            T = T @ j.origin
            if j.kind == "revolute":
                joint_frames.append(T.copy())
                R = np.eye(4)
                R[:3, :3] = _axis_angle(j.axis, q[i])
                T = T @ R
                i += 1
        return T, joint_frames

    def fk(self, q: np.ndarray) -> np.ndarray:
        """4x4 pose of ``tip`` in ``base``."""
        return self._frames(q)[0]

    def fk_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tip pose and the 6xN geometric Jacobian (rows: linear, angular; base frame)."""
        T, frames = self._frames(q)
        p = T[:3, 3]
        J = np.zeros((6, self.dof))
        for i, (F, j) in enumerate(zip(frames, self.actuated)):
            z = F[:3, :3] @ j.axis
            J[:3, i] = np.cross(z, p - F[:3, 3])
            J[3:, i] = z
        return T, J


def _floats(text: str | None, n: int, default: float = 0.0) -> np.ndarray:
    if text is None:
        return np.full(n, default)
    vals = [float(v) for v in text.split()]
    if len(vals) != n:
        raise ValueError(f"expected {n} numbers, got {text!r}")
    return np.array(vals)


def parse_urdf(path: str | Path) -> dict[str, Joint]:
    """Joints by child link name."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"kinematic model not found: {p}")
    root = ET.parse(p).getroot()
    joints: dict[str, Joint] = {}
    for el in root.findall("joint"):
        kind = el.get("type", "")
        if kind not in ("revolute", "fixed"):
            raise ValueError(f"{p.name}: joint {el.get('name')!r} has unsupported type {kind!r}")
        origin = el.find("origin")
        xyz = _floats(origin.get("xyz") if origin is not None else None, 3)
        rpy = _floats(origin.get("rpy") if origin is not None else None, 3)
        axis_el = el.find("axis")
        axis = (
            _floats(axis_el.get("xyz") if axis_el is not None else None, 3)
            if kind == "revolute"
            else np.zeros(3)
        )
        if kind == "revolute":
            if axis_el is None:
                axis = np.array([1.0, 0.0, 0.0])
            axis = axis / np.linalg.norm(axis)
        lim = el.find("limit")
        if kind == "revolute" and lim is None:
            raise ValueError(f"{p.name}: revolute joint {el.get('name')!r} has no <limit>")
        child = el.find("child").get("link")
        joints[child] = Joint(
            name=el.get("name"),
            kind=kind,
            parent=el.find("parent").get("link"),
            child=child,
            origin=transform(xyz, rpy_to_matrix(rpy)),
            axis=axis,
            lower=float(lim.get("lower", 0)) if lim is not None else 0.0,
            upper=float(lim.get("upper", 0)) if lim is not None else 0.0,
            velocity=float(lim.get("velocity", 0)) if lim is not None else 0.0,
        )
    return joints


def load_chain(path: str | Path, base: str, tip: str) -> Chain:
    joints = parse_urdf(path)
    seq: list[Joint] = []
    link = tip
    while link != base:
        if link not in joints:
            raise ValueError(
                f"{Path(path).name}: no kinematic path from {base!r} to {tip!r} (stuck at {link!r})"
            )
        j = joints[link]
        seq.append(j)
        link = j.parent
    return Chain(base=base, tip=tip, joints=tuple(reversed(seq)))


def kinematics_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "kinematics"


def rotation_log(R: np.ndarray) -> np.ndarray:
    """Rotation vector of a rotation matrix (numpy only; faster than scipy for one matrix)."""
    c = float(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))
    angle = float(np.arccos(c))
    v = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    if angle < 1e-6:
        return 0.5 * v
    if np.pi - angle < 1e-3:  # near pi v vanishes: the axis from the symmetric part, v gives its sign
        B = ((R + R.T) / 2.0 - c * np.eye(3)) / (1.0 - c)  # = n n^T exactly (Rodrigues, symmetric part)
        k = int(np.argmax(np.diag(B)))
        axis = B[:, k] / np.sqrt(max(B[k, k], 1e-12))
        axis = axis / np.linalg.norm(axis)
        if np.dot(axis, v) < 0:
            axis = -axis
        return axis * angle
    return v * (angle / (2.0 * np.sin(angle)))


def pose_error(T_target: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """(position error in metres, rotation error in radians)."""
    dp = float(np.linalg.norm(T_target[:3, 3] - T[:3, 3]))
    dR = T_target[:3, :3] @ T[:3, :3].T
    ang = float(np.arccos(np.clip((np.trace(dR) - 1.0) / 2.0, -1.0, 1.0)))
    return dp, ang


def pose_to_matrix(position: np.ndarray, quaternion_xyzw: np.ndarray) -> np.ndarray:
    q = np.asarray(quaternion_xyzw, float)
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-6:
        raise ValueError(f"invalid quaternion {q.tolist()}")
    return transform(np.asarray(position, float), Rotation.from_quat(q / n).as_matrix())


def matrix_to_pose(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return T[:3, 3].copy(), Rotation.from_matrix(T[:3, :3]).as_quat()
