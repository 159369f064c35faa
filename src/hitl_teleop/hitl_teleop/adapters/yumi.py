"""ABB YuMi IRB 14000 (abb_ros2, ros2_control): pose targets -> JointTrajectory per arm.

Kinematics (``YuMiConfig.kinematics``): "mjcf" (default) is the simulator's model, robosuite-models'
Yumi MJCF (located by ``hitl_sim.arm_models``) with ABB's Smart Gripper TCP (136 mm along the flange
z), solved with mink (adapters/mj_arm.py); "urdf" is the bundled URDF with the damped-least-squares
solver (adapters/ik.py). The two agree to 0.25 mm / 0.05 deg over random joint vectors (test_adapters_yumi.py).

Two 7-DoF arms, each with its own joint_trajectory_controller; target 0 is the left arm, target 1
the right (ArmCommand.targets order = the arm profile's ee_frames order). Joint names follow the
bundled model (yumi_joint_{1,2,7,3,4,5,6}_{l,r}, kinematic order); override them if your
ros2_control description names them differently. Grippers have no standard upstream interface, so
the target width (metres) goes out as std_msgs/Float64 per arm for a site-specific bridge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_teleop.adapters.base import (
    AdapterOutput,
    ArmCommandData,
    Float64Out,
    JointTrajectoryOut,
    check_command,
    in_box,
    target_matrix,
)
from hitl_teleop.adapters.ik import IKParams, solve_ik
from hitl_teleop.adapters.joint_ik import JointSpaceArm
from hitl_teleop.adapters.kinematics import Chain, kinematics_dir, load_chain

SIDES = ("l", "r")
KINEMATICS = ("mjcf", "urdf")
TCP_OFFSET = (0.0, 0.0, 0.136)  # ABB Smart Gripper TCP in the flange frame (as in config/kinematics/yumi.urdf)


def yumi_joint_names(side: str) -> tuple[str, ...]:
    return tuple(f"yumi_joint_{i}_{side}" for i in (1, 2, 7, 3, 4, 5, 6))


def yumi_mj_chains(xml_path: str = ""):
    """Both arms of the Yumi MJCF as chains (left, right), TCP sites added."""
    from hitl_teleop.adapters.mj_arm import ArmSpec, simulator_chains

    return simulator_chains(
        "yumi", {s: ArmSpec(yumi_joint_names(s), f"yumi_link_7_{s}", TCP_OFFSET, "base") for s in SIDES}, xml_path)


def yumi_chain(side: str, urdf: str = "") -> Chain:
    if side not in SIDES:
        raise ValueError(f"YuMi side must be 'l' or 'r', got {side!r}")
    return load_chain(urdf or kinematics_dir() / "yumi.urdf", "yumi_base_link", f"yumi_link_7_{side}_tcp")


@dataclass
class YuMiConfig:
    base_frame: str = "yumi_base_link"
    controllers: tuple[str, str] = ("left_arm_controller", "right_arm_controller")
    gripper_topics: tuple[str, str] = ("left_gripper/command", "right_gripper/command")
    gripper_max_width: float = 0.05
    time_from_start: float = 0.1  # s: one control tick
    max_joint_step: float = 0.25  # rad per tick
    workspace_min: tuple[float, float, float] = (0.20, -0.40, 0.02)
    workspace_max: tuple[float, float, float] = (0.60, 0.40, 0.50)
    kinematics: str = "mjcf"  # "mjcf": the simulator's model + mink; "urdf": the bundled URDF + DLS
    urdf: str = ""  # kinematics "urdf": another URDF
    mjcf: str = ""  # kinematics "mjcf": another MJCF (default: robosuite-models' Yumi)
    left_controller: str = ""  # full topic; default /<controllers[0]>/joint_trajectory
    right_controller: str = ""  # full topic; default /<controllers[1]>/joint_trajectory


class YuMiAdapter:
    n_arms = 2

    def __init__(self, cfg: YuMiConfig | None = None, ik: IKParams | None = None) -> None:
        self.cfg = cfg or YuMiConfig()
        if self.cfg.kinematics not in KINEMATICS:
            raise ValueError(f"YuMi kinematics must be one of {KINEMATICS}, got {self.cfg.kinematics!r}")
        if self.cfg.kinematics == "mjcf":
            from hitl_teleop.adapters.mj_arm import solve_ik_mink

            chains, solver = yumi_mj_chains(self.cfg.mjcf), solve_ik_mink
        else:
            chains, solver = [yumi_chain(s, self.cfg.urdf) for s in SIDES], solve_ik
        self.arms = [
            JointSpaceArm(chain, self.cfg.max_joint_step, ik, label=f"yumi {s}", solver=solver)
            for s, chain in zip(SIDES, chains)
        ]
        self.lo, self.hi = np.asarray(self.cfg.workspace_min), np.asarray(self.cfg.workspace_max)
        self._last_gripper: list[float | None] = [None, None]

    def trajectory_topic(self, i: int) -> str:
        explicit = (self.cfg.left_controller, self.cfg.right_controller)[i]
        return explicit or f"/{self.cfg.controllers[i]}/joint_trajectory"

    def joint_names(self, i: int) -> tuple[str, ...]:
        return self.arms[i].chain.joint_names

    def set_joint_state(self, names: list[str], positions: list[float]) -> None:
        idx = {n: i for i, n in enumerate(names)}
        for arm in self.arms:
            if all(n in idx for n in arm.chain.joint_names):
                arm.set_measured(np.array([positions[idx[n]] for n in arm.chain.joint_names]))

    def _hold(self, reason: str) -> AdapterOutput:
        for arm in self.arms:
            arm.forget_last()
        return AdapterOutput(held=True, reason=reason)

    def step(self, cmd: ArmCommandData) -> AdapterOutput:
        """Both arms move or neither does: a bimanual target with one arm frozen is not the policy's plan."""
        if cmd.hold:
            return self._hold("arbiter holds")
        bad = check_command(cmd, 2, self.cfg.base_frame)
        if bad:
            return self._hold(bad)
        sols = []
        for i, arm in enumerate(self.arms):
            if not in_box(cmd.positions[i], self.lo, self.hi):
                return self._hold(
                    f"yumi {SIDES[i]}: target {np.round(cmd.positions[i], 3).tolist()} "
                    "outside the workspace box"
                )
            sol = arm.solve(target_matrix(cmd, i))
            if not sol.ok:
                return self._hold(sol.reason)
            sols.append(sol.q)
        out = AdapterOutput()
        for i, (arm, q) in enumerate(zip(self.arms, sols)):
            arm.commit(q)
            out.messages.append(
                JointTrajectoryOut(
                    self.trajectory_topic(i),
                    arm.chain.joint_names,
                    tuple(float(v) for v in q),
                    self.cfg.time_from_start,
                )
            )
        for i, g in enumerate(cmd.gripper):
            width = float(np.clip(1.0 - g, 0.0, 1.0)) * self.cfg.gripper_max_width
            if self._last_gripper[i] is None or abs(width - self._last_gripper[i]) > 1e-4:
                self._last_gripper[i] = width
                out.messages.append(Float64Out(self.cfg.gripper_topics[i], width))
        return out
