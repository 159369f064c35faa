"""Franka FR3 / Panda (franka_ros2): pose target -> equilibrium pose of the Cartesian impedance controller.

The controller has no staleness timeout: it pulls toward the last equilibrium pose forever. So the
adapter publishes only while the arbiter sends live targets and goes silent on hold (the arm then
settles at the last target, at most one tick's step from where it was). Each target must be within
``max_step`` / ``max_rotation_step`` of the measured pose, or the adapter holds: a far equilibrium pose
would pull the arm with the full impedance stiffness. Gripper: franka_gripper's move / grasp actions,
sent only when the open/closed state changes.

Reach (``FrankaConfig.kinematics``): "mjcf" (default) solves IK for every target on the simulator's
model of the arm, robosuite's Panda MJCF (located by ``hitl_sim.arm_models``) with the TCP of Franka's
hand (``fr3_hand_tcp``: 0.1034 m along the hand flange's z), with mink (adapters/mj_arm.py), seeded from
the previous solution, and holds when no joint configuration inside the limits reaches the target within
1 mm / 1 deg: an unreachable equilibrium pose would drag the arm into its joint limits. The controller
itself still receives the Cartesian pose (libfranka's own model tracks it). "none" skips the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    target_matrix,
)
from hitl_teleop.adapters.ik import IKParams

if TYPE_CHECKING:  # mujoco loads only when an adapter is built
    from hitl_teleop.adapters.mj_arm import MjArmChain

FRANKA_JOINTS = tuple(f"joint{i}" for i in range(1, 8))  # robosuite's Panda MJCF
TIP_BODY = "right_hand"  # robosuite's hand flange (link7 + 0.1065 m, turned -45 deg about z, as fr3_hand)
TCP_OFFSET = (0.0, 0.0, 0.1034)  # fr3_hand -> fr3_hand_tcp
# Franka's "ready" pose (TCP at (0.307, 0, 0.487) m, pointing down): the first seed
READY_Q = (0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4)
KINEMATICS = ("mjcf", "none")


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
    kinematics: str = "mjcf"  # "mjcf": refuse targets the simulator's Panda model cannot reach; "none": no check
    mjcf: str = ""  # another MJCF of the arm (default: robosuite's Panda, hitl_sim.arm_models.mjcf_path("franka"))


def franka_chain(mjcf: str = "") -> MjArmChain:
    """The arm of robosuite's Panda MJCF (or ``mjcf``), TCP = ``fr3_hand_tcp``, in the base (``fr3_link0``)."""
    from hitl_teleop.adapters.mj_arm import ArmSpec, simulator_chains

    return simulator_chains("franka", {"franka": ArmSpec(FRANKA_JOINTS, TIP_BODY, TCP_OFFSET, "link0")}, mjcf)[0]


class FrankaAdapter:
    n_arms = 1

    def __init__(self, cfg: FrankaConfig | None = None, ik: IKParams | None = None) -> None:
        self.cfg = cfg or FrankaConfig()
        if self.cfg.kinematics not in KINEMATICS:
            raise ValueError(f"Franka kinematics must be one of {KINEMATICS}, got {self.cfg.kinematics!r}")
        self.chain = franka_chain(self.cfg.mjcf) if self.cfg.kinematics == "mjcf" else None
        self.ik = ik or IKParams(restarts=2)
        self.ik_q = np.array(READY_Q)  # the last IK solution: the next solve's seed (continuity)
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
        unreachable = self._unreachable(cmd)
        if unreachable:
            return AdapterOutput(held=True, reason=unreachable)
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

    def _unreachable(self, cmd: ArmCommandData) -> str:
        """'' if the model reaches the target (within the joint limits), else why not."""
        if self.chain is None:
            return ""
        from hitl_teleop.adapters.mj_arm import solve_ik_mink

        res = solve_ik_mink(self.chain, target_matrix(cmd, 0), self.ik_q, self.ik)
        if not res.success:
            return f"franka: {res.reason}"
        self.ik_q = res.q
        return ""
