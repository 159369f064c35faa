"""The arbiter: who commands the arm (policy, human, nobody) and why. Pure logic, no ROS, no clock.

Every method takes the time explicitly (seconds, any epoch shared by the caller's stamps), so the
same class runs inside the ROS node (node clock + header stamps) and in an in-process vectorized
evaluation loop (simulated time). See docs/arbiter.md for the state machine.

Action layout: a policy action (one row of an action chunk) or an expert action is, per
end-effector, [x, y, z, gripper] (action_dim = 4 * n_arms) or [x, y, z] (3 * n_arms, gripper kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from hitl_sim.arms import ArmProfile
from scipy.spatial.transform import Rotation

from hitl_teleop.safety import IDENTITY_QUAT, SafetyFilter, all_finite, normalize_quaternions
from hitl_teleop.tool_frame import ToolFrame


class Source(IntEnum):
    POLICY = 0
    HUMAN = 1
    PAUSED = 2
    RESET = 3


class Reason(IntEnum):
    """Same values as hitl_msgs/ControlState REASON_*."""

    NONE = 0
    ROBOT_GATED = 1
    HUMAN_GATED = 2
    UNCERTAINTY_LOW = 3
    OPERATOR_RELEASED = 4
    PAUSE = 5
    RESUME = 6
    RESET = 7
    STALE_POLICY = 8
    STALE_OBSERVATION = 9
    STALE_DEVICE = 10
    DEADMAN_RELEASED = 11
    INVALID_COMMAND = 12


class EpisodeEventType(IntEnum):
    START = 0
    END = 1
    RESET = 2


class HelpReason(IntEnum):
    UNCERTAINTY = 0
    HARD_RESET = 1
    IDLE = 2


MODE_DELTA = 0
MODE_ABSOLUTE = 1
GATINGS = ("robot", "human", "both")


# ----------------------------------------------------------------------------------------- inputs
@dataclass
class ObservationIn:
    stamp: float
    ee_positions: np.ndarray  # (n_arms, 3) metres, base frame
    gripper: np.ndarray | None = None  # (n_arms,)
    ee_orientations: np.ndarray | None = None  # (n_arms, 4) quaternion x, y, z, w
    episode: int = 0
    step: int = 0


@dataclass
class ActionChunkIn:
    stamp: float
    actions: np.ndarray  # (horizon, action_dim), absolute targets
    n_execute: int = 1
    dt: float = 0.1
    observation_stamp: float = 0.0


@dataclass
class UncertaintyIn:
    stamp: float
    score: float
    threshold: float | None = None


@dataclass
class TeleopIn:
    stamp: float
    operator_id: str = ""
    engaged: bool = False
    take_over: bool = False
    pause: bool = False
    reset: bool = False
    mode: int = MODE_DELTA
    position: np.ndarray | None = None  # (3,) MODE_ABSOLUTE
    orientation: np.ndarray | None = None  # (4,) MODE_ABSOLUTE (zero quaternion: keep orientation)
    delta_linear: np.ndarray | None = None  # (3,) MODE_DELTA
    delta_angular: np.ndarray | None = None  # (3,) MODE_DELTA, rotation vector [rad]
    arm_index: int = 0
    gripper: float = 0.0
    device: str = ""


@dataclass
class EpisodeEventIn:
    stamp: float
    episode: int
    event: int
    success: bool = False
    failed: bool = False


# ---------------------------------------------------------------------------------------- config
@dataclass
class ArbiterConfig:
    robot_id: str = ""
    threshold: float | None = None  # None: use the threshold carried by each Uncertainty message
    release_ratio: float = 0.8  # back to the policy when score < threshold * release_ratio ...
    release_ticks: int = 3  # ... for this many consecutive uncertainty messages
    min_intervention_s: float = 0.0  # t_T; the effective minimum is at least one action chunk
    policy_timeout_s: float = 0.15
    observation_timeout_s: float = 0.3
    device_timeout_s: float = 0.3
    gating: str = "both"  # "robot" | "human" | "both"
    require_deadman: bool = True  # HUMAN needs engaged=True, else hold
    # Operator hand-back while the score is still above the threshold (take-over button pressed and
    # released during a robot-gated intervention, or released after a human-gated one): 0 asks for
    # help again at once; r > 0 accepts the hand-back and asks again only when the score exceeds
    # r * (score at the hand-back). The acceptance ends when the score drops below the release level
    # or a new episode starts. Like acknowledging an alarm: the human vouched for this much novelty.
    rearm_ratio: float = 0.0
    rate_hz: float | None = None  # control rate (speed clamp per tick); default: the arm profile's
    # Real arms: the simulator's end-effector frame on the TCP, T_sim = T_tcp @ T(xyz, rpy) (the observation
    # bridge's ee_offset_*). A policy's (x, y, z, yaw) is a simulator pose; commands carry TCP poses.
    ee_offset_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ee_offset_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.gating not in GATINGS:
            raise ValueError(f"gating must be one of {GATINGS}, got {self.gating!r}")
        if not 0.0 < self.release_ratio <= 1.0:
            raise ValueError(f"release_ratio must be in (0, 1], got {self.release_ratio}")
        if self.release_ticks < 1:
            raise ValueError(f"release_ticks must be >= 1, got {self.release_ticks}")
        if self.rearm_ratio != 0.0 and self.rearm_ratio < 1.0:
            raise ValueError(f"rearm_ratio must be 0 (off) or >= 1, got {self.rearm_ratio}")
        for name in ("policy_timeout_s", "observation_timeout_s", "device_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


# --------------------------------------------------------------------------------------- outputs
@dataclass
class CommandOut:
    source: Source
    hold: bool
    positions: np.ndarray  # (n_arms, 3)
    orientations: np.ndarray  # (n_arms, 4)
    gripper: np.ndarray  # (n_arms,)


@dataclass
class ControlStateOut:
    source: Source
    reason: Reason
    reason_text: str
    robot_id: str
    operator_id: str
    episode: int
    step: int
    holding: bool
    help_requested: bool
    uncertainty: float
    threshold: float
    intervention_elapsed: float
    rejected_commands: int
    clamped_commands: int


@dataclass
class HelpRequestOut:
    robot_id: str
    active: bool
    priority: float
    uncertainty: float
    reason: HelpReason


@dataclass
class ArbiterOutput:
    stamp: float
    command: CommandOut
    state: ControlStateOut
    proposed: np.ndarray | None  # the policy's action for now (also while the human drives)
    human_action: np.ndarray | None  # the human's applied action, in the chunk's layout
    help_request: HelpRequestOut | None  # publish when not None (every tick while active, once on withdrawal)
    reset_request: bool  # call reset_episode(hard=True) now
    human_steps: int  # ticks driven by the human this episode
    log: list[str] = field(default_factory=list)


@dataclass
class ActionParts:
    positions: np.ndarray  # (n_arms, 3)
    yaw: np.ndarray | None  # (n_arms,) rotation about the base z axis [rad]
    gripper: np.ndarray | None  # (n_arms,)


def split_action(action: np.ndarray, n_arms: int) -> ActionParts:
    """Positions, yaw and gripper from one action row (5, 4 or 3 values per end effector)."""
    a = np.asarray(action, float).reshape(-1)
    if a.size not in (5 * n_arms, 4 * n_arms, 3 * n_arms):
        raise ValueError(
            f"action has {a.size} values; expected {5 * n_arms} (x,y,z,yaw,gripper per arm), "
            f"{4 * n_arms} (x,y,z,gripper) or {3 * n_arms} (x,y,z)"
        )
    rows = a.reshape(n_arms, -1)
    width = rows.shape[1]
    return ActionParts(
        rows[:, :3].copy(),
        rows[:, 3].copy() if width == 5 else None,
        rows[:, -1].copy() if width >= 4 else None,
    )


def yaw_to_quat(yaw: np.ndarray) -> np.ndarray:
    """(n, 4) quaternions (x, y, z, w) of rotations by `yaw` about the base z axis."""
    yaw = np.asarray(yaw, float).reshape(-1)
    return np.stack([np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)


def join_action(positions: np.ndarray, yaw: np.ndarray, gripper: np.ndarray, width: int = 5) -> np.ndarray:
    """One action row in the layout of `split_action` (width 5, 4 or 3 per end effector)."""
    cols = [np.asarray(positions, float)]
    if width == 5:
        cols.append(np.asarray(yaw, float).reshape(-1, 1))
    if width >= 4:
        cols.append(np.asarray(gripper, float)[:, None])
    return np.concatenate(cols, axis=1).reshape(-1)


class Arbiter:
    """Control-source state machine with watchdogs and a safety filter (one robot)."""

    def __init__(self, config: ArbiterConfig, profile: ArmProfile):
        self.config = config
        self.profile = profile
        self.n_arms = profile.n_arms
        rate = config.rate_hz or profile.control_rate_hz
        self.safety = SafetyFilter(profile, dt=1.0 / rate)
        self.tool = ToolFrame(config.ee_offset_xyz, config.ee_offset_rpy)
        self.rejected_commands = 0
        self.clamped_commands = 0
        self.counters: dict[str, int] = {}
        self.episode = 0
        self._source = Source.POLICY
        self._mode_reason = Reason.NONE
        self._mode_text = "starting"
        self._operator = ""
        self._forced_human = False
        self._help = False
        self._hard_reset_needed = False
        self._help_was_active = False
        self._intervention_start: float | None = None
        self._low_count = 0
        self._score: float | None = None
        self._msg_threshold: float | None = None
        self._obs: ObservationIn | None = None
        self._chunk: ActionChunkIn | None = None
        self._chunk_invalid = False
        self._chunk_duration = 0.0
        self._teleop: TeleopIn | None = None
        self._teleop_invalid = False
        self._prev_buttons: dict[str, tuple[bool, bool, bool]] = {}
        self._take_over_release_edge = False
        self._accepted_score: float | None = None  # score the operator handed back at (rearm_ratio)
        self._pause_edge = False
        self._reset_edge = False
        self._service_request: tuple[Source, str, str] | None = None
        self._pending_events: list[EpisodeEventIn] = []
        self._human_abs: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._human_delta = np.zeros((self.n_arms, 3))
        self._human_rot = np.zeros((self.n_arms, 3))
        self._human_grip: dict[int, float] = {}
        self._cmd_pos: np.ndarray | None = None
        self._cmd_ori = np.tile(IDENTITY_QUAT, (self.n_arms, 1))
        self._cmd_grip = np.zeros(self.n_arms)
        self._hold: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._holding = False
        self._human_steps = 0
        self._action_width = 5  # per end effector, as in the last chunk (hitl_sim: x, y, z, yaw, gripper)
        self._last_hold_reason: Reason | None = None
        self._log: list[str] = []
        # set by the node when another publisher of this robot's arm_command/control_state exists:
        # hold in every source, with this text as the reason (cleared: control resumes)
        self.conflict = ""

    # ------------------------------------------------------------------------------ properties
    @property
    def source(self) -> Source:
        return self._source

    @property
    def threshold(self) -> float:
        if self.config.threshold is not None:
            return float(self.config.threshold)
        return float(self._msg_threshold) if self._msg_threshold is not None else float("inf")

    def min_intervention_s(self) -> float:
        """t_T: the configured minimum, and never less than one executed action chunk."""
        return max(self.config.min_intervention_s, self._chunk_duration)

    # --------------------------------------------------------------------------------- inputs
    def on_observation(self, obs: ObservationIn) -> None:
        pos = np.asarray(obs.ee_positions, float).reshape(self.n_arms, 3)
        if not all_finite(pos, obs.gripper, obs.ee_orientations):
            self._count("bad_observations")
            self._log.append("observation with non-finite values ignored")
            return
        obs.ee_positions = pos
        self._obs = obs
        self.episode = int(obs.episode)

    def on_action_chunk(self, chunk: ActionChunkIn) -> None:
        actions = np.asarray(chunk.actions, float)
        if actions.ndim == 1:
            actions = actions.reshape(1, -1)
        chunk.actions = actions
        self._chunk = chunk
        # A policy that republishes the rest of its plan sends a shrinking n_execute between re-plans:
        # the longest chunk seen is the one the human must cover.
        self._chunk_duration = max(self._chunk_duration, max(1, int(chunk.n_execute)) * float(chunk.dt))
        if actions.shape[1] in (3 * self.n_arms, 4 * self.n_arms, 5 * self.n_arms):
            self._action_width = actions.shape[1] // self.n_arms
        valid = actions.shape[0] > 0 and all_finite(actions[0])
        if valid:
            try:
                split_action(actions[0], self.n_arms)
            except ValueError as exc:
                valid = False
                self._log.append(f"action chunk rejected: {exc}")
        if not valid:
            self.rejected_commands += 1
            self._log.append(
                f"action chunk rejected (non-finite or malformed): total {self.rejected_commands}"
            )
        self._chunk_invalid = not valid

    def on_uncertainty(self, u: UncertaintyIn) -> None:
        if not np.isfinite(u.score):
            self._count("bad_uncertainty")
            self._log.append("non-finite uncertainty score ignored")
            return
        self._score = float(u.score)
        if u.threshold is not None and np.isfinite(u.threshold) and u.threshold > 0:
            self._msg_threshold = float(u.threshold)
        if self._score < self.threshold * self.config.release_ratio:
            self._low_count += 1
            self._accepted_score = None
        else:
            self._low_count = 0

    def on_teleop(self, t: TeleopIn) -> None:
        prev_pause, prev_reset, prev_take = self._prev_buttons.get(t.operator_id, (False, False, False))
        if t.pause and not prev_pause:
            self._pause_edge = True
        if t.reset and not prev_reset:
            self._reset_edge = True
        if prev_take and not t.take_over:
            self._take_over_release_edge = True
        self._prev_buttons[t.operator_id] = (bool(t.pause), bool(t.reset), bool(t.take_over))
        self._teleop = t
        arm = int(t.arm_index)
        valid = 0 <= arm < self.n_arms
        if t.mode == MODE_ABSOLUTE:
            valid = valid and t.position is not None and all_finite(t.position, t.orientation, [t.gripper])
        else:
            valid = valid and all_finite(t.delta_linear, t.delta_angular, [t.gripper])
        self._teleop_invalid = not valid
        if not valid:
            self.rejected_commands += 1
            self._log.append(
                f"teleop command from {t.operator_id or t.device!r} rejected "
                f"(non-finite or bad arm_index {arm}): total {self.rejected_commands}"
            )
            return
        if not t.engaged:
            return
        if t.mode == MODE_ABSOLUTE:
            ori = None
            if t.orientation is not None and np.linalg.norm(t.orientation) > 1e-9:
                ori = normalize_quaternions(t.orientation)[0]
            self._human_abs[arm] = (np.asarray(t.position, float).reshape(3), ori)
        else:
            if t.delta_linear is not None:
                self._human_delta[arm] += np.asarray(t.delta_linear, float).reshape(3)
            if t.delta_angular is not None:
                self._human_rot[arm] += np.asarray(t.delta_angular, float).reshape(3)
        self._human_grip[arm] = float(t.gripper)

    def on_episode_event(self, ev: EpisodeEventIn) -> None:
        self._pending_events.append(ev)

    def request_source(self, source: Source, operator_id: str = "", reason: str = "") -> Source:
        """set_control_mode: applied on the next tick. Returns the source before the request."""
        if source not in (Source.POLICY, Source.HUMAN, Source.PAUSED):
            raise ValueError(f"cannot request source {source!r}")
        self._service_request = (Source(source), operator_id, reason)
        return self._source

    def on_reset_done(self, success: bool, episode: int | None = None, message: str = "") -> None:
        """Result of the reset_episode call made after a RESET request."""
        if self._source != Source.RESET:
            return
        if success:
            self._pending_events.append(
                EpisodeEventIn(0.0, episode if episode is not None else self.episode, EpisodeEventType.RESET)
            )
        else:
            self._set_mode(Source.PAUSED, Reason.PAUSE, f"hard reset failed ({message}); paused")

    # ---------------------------------------------------------------------------------- ticks
    def watchdog(self, now: float) -> ArbiterOutput | None:
        """Fast check between control ticks: a full tick (a hold) as soon as a hold becomes due."""
        if self._holding:
            return None
        reason, _ = self._watchdog_reason(now)
        if reason is None:
            return None
        return self.tick(now)

    def tick(self, now: float) -> ArbiterOutput:
        """One control tick: apply pending events, update the control source, produce the command."""
        reset_request = self._apply_pending(now)
        self._update_gating(now)
        proposed = self._policy_action(now)
        hold_reason, hold_text = self._watchdog_reason(now)
        human_action = None
        command = None
        if hold_reason is None:
            if self._source == Source.POLICY:
                command = self._policy_command(proposed)
            elif self._source == Source.HUMAN:
                command = self._human_command()
                if command is not None:
                    human_action = self._as_action(command)
                    self._human_steps += 1
            if command is None and self._source in (Source.POLICY, Source.HUMAN):
                hold_reason, hold_text = Reason.INVALID_COMMAND, "invalid command rejected: holding"
        if self._source != Source.HUMAN:  # deltas only count while the human drives
            self._human_delta[:] = 0.0
            self._human_rot[:] = 0.0
        if command is None:
            command = self._hold_command(now)
        else:
            self._hold = None
            self._holding = False
        if hold_reason is not None:
            self._count(hold_reason.name.lower())
        state = self._state(now, hold_reason, hold_text)
        if hold_reason is not None and self._last_hold_reason != hold_reason:
            self._log.append(f"holding: {hold_text}")
        self._last_hold_reason = hold_reason
        log, self._log = self._log, []
        return ArbiterOutput(
            now,
            command,
            state,
            proposed,
            human_action,
            self._help_output(),
            reset_request,
            self._human_steps,
            log,
        )

    # ------------------------------------------------------------------------------ internals
    def _count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    def _set_mode(self, source: Source, reason: Reason, text: str) -> None:
        if (source, reason) != (self._source, self._mode_reason):
            self._log.append(f"{self._source.name} -> {source.name}: {reason.name} ({text})")
        if source != Source.HUMAN:
            self._intervention_start = None
            self._operator = ""
            self._forced_human = False
            self._human_abs.clear()
        self._source, self._mode_reason, self._mode_text = source, reason, text

    def _start_intervention(self, now: float, reason: Reason, operator: str, text: str) -> None:
        was_human = self._source == Source.HUMAN
        self._set_mode(Source.HUMAN, reason, text)
        self._operator = operator
        if not was_human:
            self._intervention_start = now

    def _teleop_fresh(self, now: float) -> bool:
        return self._teleop is not None and now - self._teleop.stamp <= self.config.device_timeout_s

    def _apply_pending(self, now: float) -> bool:
        reset_request = False
        for ev in self._pending_events:
            self._apply_episode_event(ev)
        self._pending_events.clear()
        if self._reset_edge:
            self._reset_edge = False
            if self._source != Source.RESET:
                self._help = False
                self._set_mode(Source.RESET, Reason.RESET, "hard reset requested by the operator")
                reset_request = True
                self._count("resets")
        if self._pause_edge:
            self._pause_edge = False
            if self._source == Source.PAUSED and self._mode_reason == Reason.PAUSE:
                self._set_mode(Source.POLICY, Reason.RESUME, "resumed by the operator")
            elif self._source != Source.RESET:
                self._help = False
                self._set_mode(Source.PAUSED, Reason.PAUSE, "paused by the operator")
        if self._service_request is not None:
            source, operator, text = self._service_request
            self._service_request = None
            if self._source == Source.RESET:
                self._log.append("set_control_mode ignored during a hard reset")
            elif source == Source.POLICY:
                self._help = False
                self._accept_handback()
                self._set_mode(
                    Source.POLICY, Reason.OPERATOR_RELEASED, text or "handed back by set_control_mode"
                )
            elif source == Source.PAUSED:
                self._help = False
                self._set_mode(Source.PAUSED, Reason.PAUSE, text or "paused by set_control_mode")
            else:
                self._start_intervention(
                    now, Reason.HUMAN_GATED, operator, text or "taken over by set_control_mode"
                )
                self._forced_human = True
        return reset_request

    def _apply_episode_event(self, ev: EpisodeEventIn) -> None:
        if ev.event in (EpisodeEventType.START, EpisodeEventType.RESET):
            self.episode = int(ev.episode)
            self._score, self._low_count, self._help = None, 0, False
            self._accepted_score = None
            self._hard_reset_needed = False
            self._human_steps = 0
            if (
                self._source == Source.RESET
                or (
                    self._source == Source.HUMAN
                    and not self._forced_human
                    and self._mode_reason != Reason.HUMAN_GATED
                )
                or (self._source == Source.PAUSED and self._mode_reason == Reason.ROBOT_GATED)
            ):
                self._set_mode(Source.POLICY, Reason.NONE, f"episode {ev.episode} started")
        elif ev.event == EpisodeEventType.END:
            self._help = False
            if ev.failed:
                self._hard_reset_needed = True
                self._log.append(f"episode {ev.episode} failed: hard reset needed")
            if (self._source == Source.HUMAN and self._mode_reason == Reason.ROBOT_GATED) or (
                self._source == Source.PAUSED and self._mode_reason == Reason.ROBOT_GATED
            ):
                self._set_mode(Source.POLICY, Reason.NONE, f"episode {ev.episode} ended")

    def _update_gating(self, now: float) -> None:
        cfg = self.config
        if self._source == Source.RESET or (
            self._source == Source.PAUSED and self._mode_reason == Reason.PAUSE
        ):
            return
        human_gating = cfg.gating in ("human", "both")
        robot_gating = cfg.gating in ("robot", "both")
        fresh = self._teleop_fresh(now)
        t = self._teleop
        take_over = human_gating and fresh and t is not None and t.take_over
        released_edge, self._take_over_release_edge = self._take_over_release_edge, False
        score = self._score
        level = self.help_level()
        high = score is not None and score > level
        if take_over and not (self._source == Source.HUMAN and self._mode_reason == Reason.HUMAN_GATED):
            self._help = False
            self._start_intervention(
                now, Reason.HUMAN_GATED, t.operator_id, f"{t.operator_id or 'operator'} took over"
            )
            return
        if (
            self._source == Source.HUMAN
            and self._mode_reason == Reason.HUMAN_GATED
            and not take_over
            and not self._forced_human
        ):
            if robot_gating and high and self.config.rearm_ratio <= 0:
                self._help = True
                self._set_mode(
                    Source.PAUSED,
                    Reason.ROBOT_GATED,
                    f"operator released but score {score:.3f} > {level:.3f}: asking for help",
                )
            else:
                self._hand_back("operator released the take-over button")
            return
        if not robot_gating:
            return
        if self._source == Source.POLICY and high and not self._hard_reset_needed:
            self._help = True
            self._set_mode(
                Source.PAUSED,
                Reason.ROBOT_GATED,
                f"uncertainty {score:.3f} > threshold {self.threshold:.3f}: asking for help",
            )
        elif (
            self._source == Source.PAUSED
            and self._mode_reason == Reason.ROBOT_GATED
            and fresh
            and t is not None
            and t.engaged
        ):
            self._start_intervention(
                now,
                Reason.ROBOT_GATED,
                t.operator_id,
                f"{t.operator_id or 'operator'} answered the help request",
            )
        elif self._source == Source.HUMAN and self._mode_reason == Reason.ROBOT_GATED and released_edge:
            self._help = False
            self._hand_back("operator handed back (take-over button pressed and released)")
        elif self._source == Source.HUMAN and self._mode_reason == Reason.ROBOT_GATED:
            elapsed = now - (self._intervention_start or now)
            if elapsed >= self.min_intervention_s() - 1e-9 and self._low_count >= cfg.release_ticks:
                self._help = False
                self._set_mode(
                    Source.POLICY,
                    Reason.UNCERTAINTY_LOW,
                    f"score below {self.threshold * cfg.release_ratio:.3f} for {self._low_count} "
                    f"steps after {elapsed:.2f} s",
                )

    def help_level(self) -> float:
        """The score above which the robot asks for help now (raised after an accepted hand-back)."""
        if self._accepted_score is None:
            return self.threshold
        return max(self.threshold, self._accepted_score * self.config.rearm_ratio)

    def _accept_handback(self) -> None:
        if self.config.rearm_ratio > 0 and self._score is not None and self._score > self.threshold:
            self._accepted_score = self._score

    def _hand_back(self, text: str) -> None:
        self._accept_handback()
        if self._accepted_score is not None:
            text += f"; next help request above {self.help_level():.3f}"
        self._set_mode(Source.POLICY, Reason.OPERATOR_RELEASED, text)

    def _watchdog_reason(self, now: float) -> tuple[Reason, str] | tuple[None, str]:
        cfg = self.config
        if self.conflict:
            return Reason.INVALID_COMMAND, self.conflict
        if self._source in (Source.PAUSED, Source.RESET):
            return None, ""
        if self._obs is None:
            return Reason.STALE_OBSERVATION, "no observation received yet"
        age = now - self._obs.stamp
        if age > cfg.observation_timeout_s:
            return (
                Reason.STALE_OBSERVATION,
                f"observation {age * 1e3:.0f} ms old (> {cfg.observation_timeout_s * 1e3:.0f})",
            )
        if self._source == Source.POLICY:
            if self._chunk is None:
                return Reason.STALE_POLICY, "no action chunk received yet"
            age = now - self._chunk.stamp
            if age > cfg.policy_timeout_s:
                return (
                    Reason.STALE_POLICY,
                    f"action chunk {age * 1e3:.0f} ms old (> {cfg.policy_timeout_s * 1e3:.0f})",
                )
            if self._chunk_invalid:
                return Reason.INVALID_COMMAND, "policy action rejected (NaN/inf or malformed): holding"
        elif self._source == Source.HUMAN:
            if self._teleop is None:
                return Reason.STALE_DEVICE, "no teleop command received yet"
            age = now - self._teleop.stamp
            if age > cfg.device_timeout_s:
                return (
                    Reason.STALE_DEVICE,
                    f"teleop {age * 1e3:.0f} ms old (> {cfg.device_timeout_s * 1e3:.0f})",
                )
            if cfg.require_deadman and not self._teleop.engaged:
                return Reason.DEADMAN_RELEASED, "deadman released: holding"
            if self._teleop_invalid:
                return Reason.INVALID_COMMAND, "teleop command rejected (NaN/inf): holding"
        return None, ""

    def _policy_action(self, now: float) -> np.ndarray | None:
        c = self._chunk
        if c is None or self._chunk_invalid or now - c.stamp > self.config.policy_timeout_s:
            return None
        return c.actions[0].copy()

    def _reference(self) -> tuple[np.ndarray | None, np.ndarray]:
        if self._cmd_pos is not None:
            return self._cmd_pos, self._cmd_ori
        if self._obs is not None:
            ori = self._obs.ee_orientations
            return self._obs.ee_positions, normalize_quaternions(ori) if ori is not None else self._cmd_ori
        return None, self._cmd_ori

    def _apply_safety(self, pos: np.ndarray, grip: np.ndarray, ori: np.ndarray | None) -> CommandOut | None:
        ref_pos, ref_ori = self._reference()
        res = self.safety.apply(pos, grip, ref_pos, ori, ref_ori if ori is not None else None)
        if not res.ok:
            self.rejected_commands += 1
            self._log.extend(res.notes)
            return None
        if res.clamped:
            self.clamped_commands += 1
            self._log.extend(res.notes)
        ori_out = res.orientations if ori is not None else ref_ori.copy()
        self._cmd_pos, self._cmd_ori, self._cmd_grip = res.positions, ori_out, res.gripper
        return CommandOut(self._source, False, res.positions.copy(), ori_out.copy(), res.gripper.copy())

    def _policy_command(self, action: np.ndarray | None) -> CommandOut | None:
        if action is None:
            return None
        parts = split_action(action, self.n_arms)
        grip = parts.gripper if parts.gripper is not None else self._cmd_grip
        ori = self.tool.tcp_quaternions(parts.yaw) if parts.yaw is not None else None
        pos = parts.positions
        if not self.tool.is_identity:
            pos = self.tool.tcp_positions(pos, ori if ori is not None else self._reference()[1])
        return self._apply_safety(pos, grip, ori)

    def _as_action(self, command: CommandOut) -> np.ndarray:
        """A command (TCP poses) as an action row in the policy's layout (simulator x, y, z, yaw)."""
        return join_action(self.tool.sim_positions(command.positions, command.orientations),
                           self.tool.sim_yaw(command.orientations), command.gripper, self._action_width)

    def _human_command(self) -> CommandOut | None:
        ref_pos, ref_ori = self._reference()
        if ref_pos is None:
            return None
        pos, ori = ref_pos.copy(), ref_ori.copy()
        rotated = False
        for arm, (p, q) in self._human_abs.items():
            pos[arm] = p
            if q is not None:
                ori[arm], rotated = q, True
        pos += self._human_delta
        if np.any(self._human_rot):
            rotated = True
            for arm in range(self.n_arms):
                ori[arm] = (
                    Rotation.from_rotvec(self._human_rot[arm]) * Rotation.from_quat(ori[arm])
                ).as_quat()
        self._human_delta[:] = 0.0
        self._human_rot[:] = 0.0
        grip = self._cmd_grip.copy()
        for arm, g in self._human_grip.items():
            grip[arm] = g
        return self._apply_safety(pos, grip, ori if rotated else None)

    def _hold_command(self, now: float) -> CommandOut:
        if self._hold is None:
            obs_fresh = self._obs is not None and now - self._obs.stamp <= self.config.observation_timeout_s
            if obs_fresh:
                pos = self._obs.ee_positions.copy()
                ori = (
                    normalize_quaternions(self._obs.ee_orientations)
                    if self._obs.ee_orientations is not None
                    else self._cmd_ori.copy()
                )
                grip = (
                    np.asarray(self._obs.gripper, float).reshape(self.n_arms).copy()
                    if self._obs.gripper is not None
                    else self._cmd_grip.copy()
                )
            elif self._cmd_pos is not None:
                pos, ori, grip = self._cmd_pos.copy(), self._cmd_ori.copy(), self._cmd_grip.copy()
            elif self._obs is not None:
                pos, ori, grip = self._obs.ee_positions.copy(), self._cmd_ori.copy(), self._cmd_grip.copy()
            else:
                pos, ori, grip = self.profile.home.copy(), self._cmd_ori.copy(), self._cmd_grip.copy()
            self._hold = (pos, ori, grip)
            if self._obs is not None or self._cmd_pos is not None:
                self._cmd_pos, self._cmd_ori, self._cmd_grip = pos.copy(), ori.copy(), grip.copy()
        self._holding = True
        pos, ori, grip = self._hold
        return CommandOut(self._source, True, pos.copy(), ori.copy(), grip.copy())

    def _state(self, now: float, hold_reason: Reason | None, hold_text: str) -> ControlStateOut:
        holding = self._holding
        reason, text = (
            (hold_reason, hold_text) if hold_reason is not None else (self._mode_reason, self._mode_text)
        )
        elapsed = (
            now - self._intervention_start
            if (self._source == Source.HUMAN and self._intervention_start is not None)
            else 0.0
        )
        return ControlStateOut(
            source=self._source,
            reason=reason,
            reason_text=text,
            robot_id=self.config.robot_id,
            operator_id=self._operator if self._source == Source.HUMAN else "",
            episode=self.episode,
            step=int(self._obs.step) if self._obs is not None else 0,
            holding=holding,
            help_requested=self._help,
            uncertainty=float(self._score) if self._score is not None else 0.0,
            threshold=self.threshold if np.isfinite(self.threshold) else 0.0,
            intervention_elapsed=float(elapsed),
            rejected_commands=self.rejected_commands,
            clamped_commands=self.clamped_commands,
        )

    def _help_output(self) -> HelpRequestOut | None:
        active = self._help or self._hard_reset_needed
        if not active and not self._help_was_active:
            return None
        self._help_was_active = active
        score = float(self._score) if self._score is not None else 0.0
        reason = HelpReason.HARD_RESET if self._hard_reset_needed else HelpReason.UNCERTAINTY
        return HelpRequestOut(self.config.robot_id, active, score, score, reason)
