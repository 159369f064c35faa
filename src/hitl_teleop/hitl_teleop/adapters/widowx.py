"""WidowX 250 6-DoF (Interbotix xs_sdk): pose target -> JointGroupCommand on /<robot>/commands/joint_group.

xs_sdk takes joint space only. The arm group is named "arm" with joints (waist, shoulder, elbow,
forearm_roll, wrist_angle, wrist_rotate) in that order; the gripper is a JointSingleCommand named
"gripper" (in xs_sdk's default "pwm" mode: +effort opens, -effort closes).

Kinematics: the simulator's MJCF of the arm (hitl_sim/mj/widowx/robot.xml, located through
``hitl_sim.arm_models``) with a TCP site at the URDF's ``ee_gripper_link`` (0.093575 m along the
gripper link's x), solved with mink (adapters/mj_arm.py). The MJCF was written from
config/kinematics/wx250s.urdf and matches its FK to 1e-6 m (src/hitl_sim/test/test_widowx_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # mujoco loads only when an adapter is built (as for the YuMi)
    from hitl_teleop.adapters.mj_arm import MjArmChain

WIDOWX_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
TIP_BODY = "gripper_link"  # the MJCF body the TCP hangs from
# ee_gripper_link in the gripper link's frame: ee_arm 0.043 + gripper_bar->fingers 0.023 + fingers->tip 0.027575
# (config/kinematics/wx250s.urdf); same orientation as the gripper link (x out of the gripper)
TCP_OFFSET = (0.093575, 0.0, 0.0)


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
    mjcf: str = ""  # another MJCF of the arm (default: the simulator's, hitl_sim.arm_models.mjcf_path("widowx"))
    joint_group_topic: str = ""  # default /<robot_name>/commands/joint_group
    joint_single_topic: str = ""  # default /<robot_name>/commands/joint_single

    @property
    def base_frame(self) -> str:
        return f"{self.robot_name}/base_link"

    @property
    def ee_frame(self) -> str:
        return f"{self.robot_name}/ee_gripper_link"


def widowx_chain(mjcf: str = "") -> MjArmChain:
    """The arm of the simulator's MJCF (or ``mjcf``), TCP = ``wx250s/ee_gripper_link``, in ``wx250s/base_link``."""
    from hitl_teleop.adapters.mj_arm import ArmSpec, simulator_chains

    return simulator_chains("widowx", {"widowx": ArmSpec(WIDOWX_JOINTS, TIP_BODY, TCP_OFFSET, "base_link")}, mjcf)[0]


class WidowXAdapter:
    n_arms = 1

    def __init__(self, cfg: WidowXConfig | None = None, ik: IKParams | None = None) -> None:
        self.cfg = cfg or WidowXConfig()
        from hitl_teleop.adapters.mj_arm import solve_ik_mink

        self.chain = widowx_chain(self.cfg.mjcf)
        self.arm = JointSpaceArm(self.chain, self.cfg.max_joint_step, ik, label="widowx", solver=solve_ik_mink)
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
