"""WidowX 250 6-DoF (Interbotix xs_sdk): pose target -> JointGroupCommand on /<robot>/commands/joint_group.

xs_sdk takes joint space only. The arm group is named "arm" with joints (waist, shoulder, elbow,
forearm_roll, wrist_angle, wrist_rotate) in that order; the gripper is a JointSingleCommand named
"gripper" (in xs_sdk's default "pwm" mode: +effort opens, -effort closes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_teleop.adapters.base import (
    AdapterOutput,
    ArmCommandData,
    GripperLatch,
    JointGroupCommandOut,
    JointSingleCommandOut,
    check_command,
    in_box,
    target_matrix,
)
from hitl_teleop.adapters.ik import IKParams
from hitl_teleop.adapters.joint_ik import JointSpaceArm
from hitl_teleop.adapters.kinematics import Chain, kinematics_dir, load_chain

WIDOWX_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")


@dataclass
class WidowXConfig:
    robot_name: str = "wx250s"
    group_name: str = "arm"
    gripper_name: str = "gripper"
    gripper_mode: str = "pwm"  # "pwm": cmd = +/- gripper_effort; "position": finger position (m)
    gripper_effort: float = 250.0  # xs_sdk default pressure 0.5 of [150, 350]
    gripper_open_position: float = 0.037
    gripper_closed_position: float = 0.015
    max_joint_step: float = 0.25  # rad per tick
    workspace_min: tuple[float, float, float] = (0.15, -0.25, 0.03)
    workspace_max: tuple[float, float, float] = (0.45, 0.25, 0.40)
    urdf: str = ""
    joint_group_topic: str = ""  # default /<robot_name>/commands/joint_group
    joint_single_topic: str = ""  # default /<robot_name>/commands/joint_single

    @property
    def base_frame(self) -> str:
        return f"{self.robot_name}/base_link"

    @property
    def ee_frame(self) -> str:
        return f"{self.robot_name}/ee_gripper_link"


def widowx_chain(urdf: str = "") -> Chain:
    """The chain in the bundled model uses the default "wx250s/" link prefix."""
    return load_chain(urdf or kinematics_dir() / "wx250s.urdf", "wx250s/base_link", "wx250s/ee_gripper_link")


class WidowXAdapter:
    n_arms = 1

    def __init__(self, cfg: WidowXConfig | None = None, ik: IKParams | None = None) -> None:
        self.cfg = cfg or WidowXConfig()
        self.chain = widowx_chain(self.cfg.urdf)
        if self.chain.joint_names != WIDOWX_JOINTS:
            raise ValueError(f"WidowX model joints {self.chain.joint_names} != xs_sdk order {WIDOWX_JOINTS}")
        self.arm = JointSpaceArm(self.chain, self.cfg.max_joint_step, ik, label="widowx")
        self.gripper = GripperLatch()
        self.lo, self.hi = np.asarray(self.cfg.workspace_min), np.asarray(self.cfg.workspace_max)

    @property
    def joint_state_topic(self) -> str:
        return f"/{self.cfg.robot_name}/joint_states"

    @property
    def group_topic(self) -> str:
        return self.cfg.joint_group_topic or f"/{self.cfg.robot_name}/commands/joint_group"

    @property
    def single_topic(self) -> str:
        return self.cfg.joint_single_topic or f"/{self.cfg.robot_name}/commands/joint_single"

    def set_joint_state(self, names: list[str], positions: list[float]) -> None:
        idx = {n: i for i, n in enumerate(names)}
        if all(n in idx for n in WIDOWX_JOINTS):
            self.arm.set_measured(np.array([positions[idx[n]] for n in WIDOWX_JOINTS]))

    def _hold(self, reason: str) -> AdapterOutput:
        self.arm.forget_last()
        return AdapterOutput(held=True, reason=reason)

    def step(self, cmd: ArmCommandData) -> AdapterOutput:
        if cmd.hold:
            return self._hold("arbiter holds")
        bad = check_command(cmd, 1, self.cfg.base_frame)
        if bad:
            return self._hold(bad)
        if not in_box(cmd.positions[0], self.lo, self.hi):
            return self._hold(
                f"widowx: target {np.round(cmd.positions[0], 3).tolist()} outside the workspace box"
            )
        sol = self.arm.solve(target_matrix(cmd, 0))
        if not sol.ok:
            return self._hold(sol.reason)
        self.arm.commit(sol.q)
        out = AdapterOutput(
            messages=[
                JointGroupCommandOut(self.group_topic, self.cfg.group_name, tuple(float(v) for v in sol.q))
            ]
        )
        if cmd.gripper:
            closed = self.gripper.update(cmd.gripper[0])
            if closed is not None:
                out.messages.append(
                    JointSingleCommandOut(
                        self.single_topic, self.cfg.gripper_name, self._gripper_value(closed)
                    )
                )
        return out

    def _gripper_value(self, closed: bool) -> float:
        if self.cfg.gripper_mode == "pwm":
            return -self.cfg.gripper_effort if closed else self.cfg.gripper_effort
        if self.cfg.gripper_mode == "position":
            return self.cfg.gripper_closed_position if closed else self.cfg.gripper_open_position
        raise ValueError(f"gripper_mode must be 'pwm' or 'position', got {self.cfg.gripper_mode!r}")
