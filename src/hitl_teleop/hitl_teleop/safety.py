"""Safety filter for arm targets: NaN/inf rejection, workspace clamp, per-tick speed clamp.

Targets are end-effector positions (n_arms, 3) in metres (base frame), optional orientations
(n_arms, 4) as quaternions (x, y, z, w), and grippers (n_arms,) in 0 (open) .. 1 (closed).
Pure numpy; limits come from `hitl_sim.arms.ArmProfile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hitl_sim.arms import ArmProfile

IDENTITY_QUAT = np.array([0.0, 0.0, 0.0, 1.0])


@dataclass
class SafetyResult:
    """Outcome of filtering one command. `ok` is False when the command was rejected (NaN/inf)."""

    ok: bool
    positions: np.ndarray
    orientations: np.ndarray
    gripper: np.ndarray
    clamped: bool = False
    notes: list[str] = field(default_factory=list)


def all_finite(*arrays: np.ndarray | None) -> bool:
    """True when every given array (None ignored) holds only finite numbers."""
    return all(a is None or bool(np.isfinite(np.asarray(a, float)).all()) for a in arrays)


def clamp_workspace(positions: np.ndarray, profile: ArmProfile) -> tuple[np.ndarray, bool]:
    """Clip positions (n_arms, 3) into the profile's workspace box."""
    p = np.asarray(positions, float)
    out = np.clip(p, profile.workspace_min, profile.workspace_max)
    return out, bool(np.any(out != p))


def clamp_step(positions: np.ndarray, reference: np.ndarray, max_step: float) -> tuple[np.ndarray, bool]:
    """Limit each end effector's translation from `reference` to `max_step` metres (direction kept)."""
    p, ref = np.asarray(positions, float), np.asarray(reference, float)
    delta = p - ref
    norms = np.linalg.norm(delta, axis=-1, keepdims=True)
    scale = np.where(norms > max_step, max_step / np.maximum(norms, 1e-12), 1.0)
    out = ref + delta * scale
    return out, bool(np.any(norms > max_step + 1e-12))


def normalize_quaternions(q: np.ndarray) -> np.ndarray:
    """Unit quaternions; a zero quaternion (an unset Pose) becomes the identity."""
    q = np.asarray(q, float).reshape(-1, 4)
    norms = np.sqrt(np.einsum("ij,ij->i", q, q))
    small = norms < 1e-9
    if small.any():
        q = np.where(small[:, None], IDENTITY_QUAT, q)
        norms = np.where(small, 1.0, norms)
    return q / norms[:, None]


def clamp_rotation_step(q: np.ndarray, reference: np.ndarray, max_angle: float) -> tuple[np.ndarray, bool]:
    """Limit the rotation from `reference` to `q` (per end effector) to `max_angle` radians (slerp)."""
    q, ref = normalize_quaternions(q), normalize_quaternions(reference)
    dot = np.sum(q * ref, axis=1)
    q = np.where(dot[:, None] < 0, -q, q)  # the short way round
    dot = np.clip(np.abs(dot), -1.0, 1.0)
    omega = np.arccos(dot)  # half the rotation angle
    over = 2.0 * omega > max_angle + 1e-12
    if not over.any():
        return q, False
    frac = np.where(over, max_angle / np.maximum(2.0 * omega, 1e-12), 1.0)
    sin_o = np.maximum(np.sin(omega), 1e-12)
    w0 = np.sin((1.0 - frac) * omega) / sin_o
    w1 = np.sin(frac * omega) / sin_o
    out = np.where(over[:, None], w0[:, None] * ref + w1[:, None] * q, q)
    return normalize_quaternions(out), True


class SafetyFilter:
    """Applies the arm profile's limits to one command per control tick."""

    def __init__(self, profile: ArmProfile, dt: float | None = None):
        self.profile = profile
        self.dt = float(dt if dt is not None else profile.dt)
        self.max_step = profile.max_linear_speed * self.dt
        self.max_angle = profile.max_angular_speed * self.dt

    def apply(
        self,
        positions: np.ndarray,
        gripper: np.ndarray,
        reference: np.ndarray | None,
        orientations: np.ndarray | None = None,
        reference_orientations: np.ndarray | None = None,
    ) -> SafetyResult:
        """Reject non-finite commands; clamp to the workspace, then to one tick of motion from `reference`."""
        n = self.profile.n_arms
        pos = np.asarray(positions, float).reshape(n, 3)
        grip = np.asarray(gripper, float).reshape(n)
        ori = None if orientations is None else np.asarray(orientations, float).reshape(n, 4)
        if not all_finite(pos, grip, ori):
            return SafetyResult(
                False,
                pos,
                ori if ori is not None else np.tile(IDENTITY_QUAT, (n, 1)),
                grip,
                notes=["non-finite target rejected"],
            )
        notes: list[str] = []
        pos_ws, c_ws = clamp_workspace(pos, self.profile)
        if c_ws:
            notes.append(f"target {np.round(pos, 3).tolist()} clamped to workspace")
        c_step = False
        if reference is not None:
            pos_ws, c_step = clamp_step(pos_ws, reference, self.max_step)
            if c_step:
                notes.append(f"step limited to {self.max_step:.4f} m/tick")
        grip_c = np.clip(grip, 0.0, 1.0)
        c_grip = bool(np.any(grip_c != grip))
        if c_grip:
            notes.append("gripper clamped to [0, 1]")
        ori_out = normalize_quaternions(ori) if ori is not None else np.tile(IDENTITY_QUAT, (n, 1))
        c_rot = False
        if ori is not None and reference_orientations is not None:
            ori_out, c_rot = clamp_rotation_step(ori_out, reference_orientations, self.max_angle)
            if c_rot:
                notes.append(f"rotation limited to {self.max_angle:.3f} rad/tick")
        return SafetyResult(
            True, pos_ws, ori_out, grip_c, clamped=c_ws or c_step or c_grip or c_rot, notes=notes
        )
