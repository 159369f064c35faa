"""Pose target -> joint target for one arm, with reachability, joint-limit and jump guards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hitl_teleop.adapters.ik import IKParams, IKResult, solve_ik
from hitl_teleop.adapters.kinematics import Chain

IKSolver = Callable[..., IKResult]  # (chain, T_target, q_seed, params) -> IKResult: ik.solve_ik, mj_arm.solve_ik_mink


@dataclass
class JointTarget:
    ok: bool
    q: np.ndarray
    reason: str = ""


class JointSpaceArm:
    """One serial arm: IK seeded from the last command (or the measured joints) and a per-tick jump limit.

    ``max_joint_step`` is the largest change of any joint between consecutive commands (rad); a
    larger one means an IK branch flip or a target far from the arm, so the arm holds instead.
    """

    def __init__(
        self, chain: Chain, max_joint_step: float, ik: IKParams | None = None, label: str = "arm",
        solver: IKSolver = solve_ik,
    ) -> None:
        # few restarts: a solution from a random seed is almost always a branch flip the jump guard rejects
        self.chain, self.max_joint_step, self.label, self.solver = chain, max_joint_step, label, solver
        self.ik = ik or IKParams(restarts=2)
        self.measured: np.ndarray | None = None
        self.last_sent: np.ndarray | None = None

    def set_measured(self, q: np.ndarray) -> None:
        self.measured = np.asarray(q, float)

    def forget_last(self) -> None:
        """After a hold, re-seed from the measured joints (the arm may have been moved)."""
        self.last_sent = None

    def solve(self, T_target: np.ndarray) -> JointTarget:
        ref = self.last_sent if self.last_sent is not None else self.measured
        if ref is None:
            return JointTarget(False, np.zeros(self.chain.dof), f"{self.label}: waiting for joint states")
        if (
            self.measured is not None
            and self.last_sent is not None
            and np.max(np.abs(self.measured - self.last_sent)) > 3 * self.max_joint_step
        ):
            ref = self.measured  # the arm did not follow (collision, e-stop): re-seed from where it is
        res = self.solver(self.chain, T_target, ref, self.ik)
        if not res.success:
            return JointTarget(False, ref, f"{self.label}: {res.reason}")
        if not self.chain.within_limits(res.q):
            return JointTarget(False, ref, f"{self.label}: IK solution outside joint limits")
        jump = np.abs(res.q - ref)
        k = int(np.argmax(jump))
        if jump[k] > self.max_joint_step:
            return JointTarget(
                False,
                ref,
                (
                    f"{self.label}: joint {self.chain.joint_names[k]} would move "
                    f"{jump[k]:.2f} rad in one tick (limit {self.max_joint_step:.2f})"
                ),
            )
        return JointTarget(True, res.q)

    def commit(self, q: np.ndarray) -> None:
        self.last_sent = np.asarray(q, float).copy()
