"""From the decided source to the arm command: the policy's or the human's target through the safety
filter, or a hold of the pose the arm had when the hold began (docs/arbiter.md, Commands and safety)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hitl_sim.arms import ArmProfile
from scipy.spatial.transform import Rotation

from hitl_teleop.arbiter.actions import join_action, split_action
from hitl_teleop.arbiter.types import (
    MODE_ABSOLUTE,
    CommandOut,
    ControlSource,
    LogLevel,
    LogRecord,
    ObservationIn,
    TeleopIn,
)
from hitl_teleop.safety import IDENTITY_QUAT, SafetyFilter, normalize_quaternions
from hitl_teleop.tool_frame import ToolFrame


@dataclass
class Tally:
    """Commands rejected (NaN/inf, malformed) and clamped (workspace, speed, gripper) so far."""

    rejected: int = 0
    clamped: int = 0
    log: list[LogRecord] = field(default_factory=list)

    def reject(self, text: str) -> None:
        self.rejected += 1
        self.log.append(LogRecord(LogLevel.WARNING, text))

    def warn(self, text: str) -> None:
        self.log.append(LogRecord(LogLevel.WARNING, text))

    def info(self, text: str) -> None:
        self.log.append(LogRecord(LogLevel.INFO, text))


@dataclass
class HumanInput:
    """The operator's targets since the previous tick (only samples with the deadman engaged)."""

    absolute: dict[int, tuple[np.ndarray, np.ndarray | None]]  # arm -> position, orientation or None
    delta: np.ndarray  # (n_arms, 3) summed linear deltas
    rotation: np.ndarray  # (n_arms, 3) summed rotation vectors
    gripper: dict[int, float]

    @classmethod
    def empty(cls, n_arms: int) -> HumanInput:
        return cls({}, np.zeros((n_arms, 3)), np.zeros((n_arms, 3)), {})

    def add(self, t: TeleopIn) -> None:
        arm = int(t.arm_index)
        if t.mode == MODE_ABSOLUTE:
            ori = None
            if t.orientation is not None and np.linalg.norm(t.orientation) > 1e-9:
                ori = normalize_quaternions(t.orientation)[0]
            self.absolute[arm] = (np.asarray(t.position, float).reshape(3), ori)
        else:
            if t.delta_linear is not None:
                self.delta[arm] += np.asarray(t.delta_linear, float).reshape(3)
            if t.delta_angular is not None:
                self.rotation[arm] += np.asarray(t.delta_angular, float).reshape(3)
        self.gripper[arm] = float(t.gripper)

    def clear_deltas(self) -> None:
        self.delta[:] = 0.0
        self.rotation[:] = 0.0


class Commander:
    """The last commanded pose, the hold pose and the operator's pending targets of one robot."""

    def __init__(self, profile: ArmProfile, rate_hz: float, tool: ToolFrame, tally: Tally):
        self.profile = profile
        self.n_arms = profile.n_arms
        self.safety = SafetyFilter(profile, dt=1.0 / rate_hz)
        self.tool = tool
        self.tally = tally
        self.human = HumanInput.empty(self.n_arms)
        self.action_width = 5  # per end effector, as in the last chunk (hitl_sim: x, y, z, yaw, gripper)
        self.pos: np.ndarray | None = None  # last commanded (n_arms, 3)
        self.ori = np.tile(IDENTITY_QUAT, (self.n_arms, 1))
        self.grip = np.zeros(self.n_arms)
        self.hold_pose: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def reference(self, obs: ObservationIn | None) -> tuple[np.ndarray | None, np.ndarray]:
        """The pose speed limits count from: the last command, else the observed pose."""
        if self.pos is not None:
            return self.pos, self.ori
        if obs is not None:
            ori = obs.ee_orientations
            return obs.ee_positions, normalize_quaternions(ori) if ori is not None else self.ori
        return None, self.ori

    def _safe(self, source: ControlSource, obs: ObservationIn | None, pos: np.ndarray, grip: np.ndarray,
              ori: np.ndarray | None) -> CommandOut | None:
        ref_pos, ref_ori = self.reference(obs)
        res = self.safety.apply(pos, grip, ref_pos, ori, ref_ori if ori is not None else None)
        if not res.ok:
            self.tally.rejected += 1
            self.tally.log.extend(LogRecord(LogLevel.WARNING, note) for note in res.notes)
            return None
        if res.clamped:
            self.tally.clamped += 1
            self.tally.log.extend(LogRecord(LogLevel.INFO, note, routine=True) for note in res.notes)
        ori_out = res.orientations if ori is not None else ref_ori.copy()
        self.pos, self.ori, self.grip = res.positions, ori_out, res.gripper
        self.hold_pose = None
        return CommandOut(source, False, res.positions.copy(), ori_out.copy(), res.gripper.copy())

    def policy(self, action: np.ndarray | None, obs: ObservationIn | None) -> CommandOut | None:
        """The policy's action row as a safe command (None: nothing to command, or rejected)."""
        if action is None:
            return None
        parts = split_action(action, self.n_arms)
        grip = parts.gripper if parts.gripper is not None else self.grip
        ori = self.tool.tcp_quaternions(parts.yaw) if parts.yaw is not None else None
        pos = parts.positions
        if not self.tool.is_identity:
            pos = self.tool.tcp_positions(pos, ori if ori is not None else self.reference(obs)[1])
        return self._safe(ControlSource.POLICY, obs, pos, grip, ori)

    def human_command(self, obs: ObservationIn | None) -> CommandOut | None:
        """The operator's targets since the last tick as a safe command (consumes the deltas)."""
        ref_pos, ref_ori = self.reference(obs)
        if ref_pos is None:
            return None
        pos, ori = ref_pos.copy(), ref_ori.copy()
        rotated = False
        for arm, (p, q) in self.human.absolute.items():
            pos[arm] = p
            if q is not None:
                ori[arm], rotated = q, True
        pos += self.human.delta
        if np.any(self.human.rotation):
            rotated = True
            for arm in range(self.n_arms):
                ori[arm] = (Rotation.from_rotvec(self.human.rotation[arm]) * Rotation.from_quat(ori[arm])).as_quat()
        self.human.clear_deltas()
        grip = self.grip.copy()
        for arm, g in self.human.gripper.items():
            grip[arm] = g
        return self._safe(ControlSource.HUMAN, obs, pos, grip, ori if rotated else None)

    def as_action(self, command: CommandOut) -> np.ndarray:
        """A command (TCP poses) as an action row in the policy's layout (simulator x, y, z, yaw)."""
        return join_action(
            self.tool.sim_positions(command.positions, command.orientations),
            self.tool.sim_yaw(command.orientations),
            command.gripper,
            self.action_width,
        )

    def hold(self, source: ControlSource, obs: ObservationIn | None, obs_fresh: bool) -> CommandOut:
        """Hold the pose the arm had when the hold began: observed if fresh, else last commanded, else home."""
        if self.hold_pose is None:
            if obs_fresh:
                pos = obs.ee_positions.copy()
                ori = normalize_quaternions(obs.ee_orientations) if obs.ee_orientations is not None else self.ori.copy()
                grip = (
                    np.asarray(obs.gripper, float).reshape(self.n_arms).copy()
                    if obs.gripper is not None
                    else self.grip.copy()
                )
            elif self.pos is not None:
                pos, ori, grip = self.pos.copy(), self.ori.copy(), self.grip.copy()
            elif obs is not None:
                pos, ori, grip = obs.ee_positions.copy(), self.ori.copy(), self.grip.copy()
            else:
                pos, ori, grip = self.profile.home.copy(), self.ori.copy(), self.grip.copy()
            self.hold_pose = (pos, ori, grip)
            if obs is not None or self.pos is not None:
                self.pos, self.ori, self.grip = pos.copy(), ori.copy(), grip.copy()
        pos, ori, grip = self.hold_pose
        return CommandOut(source, True, pos.copy(), ori.copy(), grip.copy())
