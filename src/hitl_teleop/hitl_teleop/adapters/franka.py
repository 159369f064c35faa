"""Franka FR3 / Panda (franka_ros2): pose target -> equilibrium pose of the Cartesian impedance controller.

The controller has no staleness timeout: it pulls toward the last equilibrium pose forever. So the
adapter publishes only while the arbiter sends live targets and goes silent on hold (the arm then
settles at the last target, at most one tick's step from where it was). Each target must be within
``max_step`` / ``max_rotation_step`` of the measured pose, or the adapter holds: a far equilibrium pose
would pull the arm with the full impedance stiffness. Gripper: franka_gripper's move / grasp actions,
sent only when the open/closed state changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_teleop.adapters.base import (
    AdapterOutput,
    ArmCommandData,
    GripperActionOut,
    GripperLatch,
    PoseStampedOut,
    angle_between,
    check_command,
    in_box,
)


@dataclass
class FrankaConfig:
    base_frame: str = "fr3_link0"
    pose_topic: str = "/cartesian_impedance_example_controller/equilibrium_pose"
    gripper_namespace: str = "/franka_gripper"
    max_step: float = 0.05  # m between the measured pose and a target (2x the 10 Hz, 0.25 m/s step)
    max_rotation_step: float = 0.3  # rad
    workspace_min: tuple[float, float, float] = (0.25, -0.45, 0.02)
    workspace_max: tuple[float, float, float] = (0.80, 0.45, 0.75)
    gripper_max_width: float = 0.08
    gripper_speed: float = 0.1  # m/s
    grasp_force: float = 20.0  # N
    grasp_epsilon: float = 0.08  # m: accept any final width (grasp objects of unknown size)


class FrankaAdapter:
    n_arms = 1

    def __init__(self, cfg: FrankaConfig | None = None) -> None:
        self.cfg = cfg or FrankaConfig()
        self.lo, self.hi = np.asarray(self.cfg.workspace_min), np.asarray(self.cfg.workspace_max)
        self.measured_position: np.ndarray | None = None
        self.measured_quaternion: np.ndarray | None = None
        self.gripper = GripperLatch()

    def set_current_pose(self, position: np.ndarray, quaternion: np.ndarray) -> None:
        self.measured_position = np.asarray(position, float)
        self.measured_quaternion = np.asarray(quaternion, float)

    def step(self, cmd: ArmCommandData) -> AdapterOutput:
        if cmd.hold:
            return AdapterOutput(held=True, reason="arbiter holds")
        bad = check_command(cmd, 1, self.cfg.base_frame)
        if bad:
            return AdapterOutput(held=True, reason=bad)
        p, q = cmd.positions[0], cmd.quaternions[0] / np.linalg.norm(cmd.quaternions[0])
        if not in_box(p, self.lo, self.hi):
            return AdapterOutput(
                held=True, reason=f"franka: target {np.round(p, 3).tolist()} outside the workspace box"
            )
        if self.measured_position is None or self.measured_quaternion is None:
            return AdapterOutput(held=True, reason="franka: waiting for the current pose")
        d = float(np.linalg.norm(p - self.measured_position))
        if d > self.cfg.max_step:
            return AdapterOutput(
                held=True,
                reason=f"franka: target is {d * 1000:.0f} mm from the arm "
                f"(limit {self.cfg.max_step * 1000:.0f} mm per tick)",
            )
        a = angle_between(self.measured_quaternion, q)
        if a > self.cfg.max_rotation_step:
            return AdapterOutput(
                held=True,
                reason=f"franka: target is {np.rad2deg(a):.0f} deg from the arm "
                f"(limit {np.rad2deg(self.cfg.max_rotation_step):.0f} deg per tick)",
            )
        out = AdapterOutput(
            messages=[
                PoseStampedOut(
                    self.cfg.pose_topic,
                    self.cfg.base_frame,
                    tuple(float(v) for v in p),
                    tuple(float(v) for v in q),
                )
            ]
        )
        if cmd.gripper:
            closed = self.gripper.update(cmd.gripper[0])
            ns = self.cfg.gripper_namespace.rstrip("/")
            if closed is True:
                out.messages.append(
                    GripperActionOut(
                        f"{ns}/grasp",
                        "grasp",
                        0.0,
                        self.cfg.gripper_speed,
                        self.cfg.grasp_force,
                        self.cfg.grasp_epsilon,
                        self.cfg.grasp_epsilon,
                    )
                )
            elif closed is False:
                out.messages.append(
                    GripperActionOut(f"{ns}/move", "move", self.cfg.gripper_max_width, self.cfg.gripper_speed)
                )
        return out
