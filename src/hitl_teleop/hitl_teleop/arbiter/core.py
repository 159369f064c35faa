"""The arbiter: who commands the arm (policy, human, nobody) and why. Pure logic, no ROS, no clock.

Every method takes the time explicitly (seconds, any epoch shared by the caller's stamps), so the
same class runs inside the ROS node (node clock + header stamps) and in an in-process vectorized
evaluation loop (simulated time). docs/arbiter.md has the state machine.

One tick: episode events and requests (reset, pause, set_control_mode) -> the current mode's gating
handler (arbiter/modes.py) -> watchdog holds (arbiter/watchdogs.py) -> the command (arbiter/commands.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hitl_sim.arms import ArmProfile
from hitl_sim.mj.layout import yaw_zero

from hitl_teleop.arbiter.actions import split_action
from hitl_teleop.arbiter.commands import Commander, Tally
from hitl_teleop.arbiter.config import ArbiterConfig
from hitl_teleop.arbiter.help_gate import HelpGate
from hitl_teleop.arbiter.modes import GatingView, Transition, decide
from hitl_teleop.arbiter.types import (
    MODE_ABSOLUTE,
    ActionChunkIn,
    ArbiterOutput,
    CommandOut,
    ControlSource,
    ControlStateOut,
    EpisodeEventIn,
    EpisodeEventType,
    HelpReason,
    HelpRequestOut,
    LogLevel,
    LogRecord,
    Mode,
    ObservationIn,
    Reason,
    TeleopIn,
    UncertaintyIn,
)
from hitl_teleop.arbiter.watchdogs import Hold, LatestInputs, watchdog_hold
from hitl_teleop.safety import all_finite
from hitl_teleop.tool_frame import ToolFrame

_REQUESTABLE = {ControlSource.POLICY, ControlSource.HUMAN, ControlSource.PAUSED}


@dataclass
class _Requests:
    """Button edges and set_control_mode requests received since the last tick."""

    reset: bool = False
    pause: bool = False
    take_over_released: bool = False
    control_mode: tuple[ControlSource, str, str] | None = None  # source, operator, reason text


class Arbiter:
    """Control-mode state machine with watchdogs and a safety filter (one robot)."""

    def __init__(self, config: ArbiterConfig, profile: ArmProfile):
        self.config = config
        self.profile = profile
        self.n_arms = profile.n_arms
        self.tool = ToolFrame(config.ee_offset_xyz, config.ee_offset_rpy, yaw_zero(profile.name, config.ee_layout))
        self.tally = Tally()
        self.commander = Commander(profile, config.rate_hz or profile.control_rate_hz, self.tool, self.tally)
        self.safety = self.commander.safety
        self.gate = HelpGate(config)
        self.inputs = LatestInputs()
        self.counters: dict[str, int] = {}
        self.episode = 0
        self.mode = Mode.POLICY
        self.reason = Reason.NONE  # why the current mode was entered
        self.reason_text = "starting"
        self.operator = ""  # the operator in control (HUMAN modes)
        self.intervention_start: float | None = None
        self.failed_episode: int | None = None  # ended failed: a hard reset is needed before the next one
        self.hold: Hold | None = None  # the arm is held (last tick)
        self.human_steps = 0
        self._requests = _Requests()
        self._pending_events: list[EpisodeEventIn] = []
        self._prev_buttons: dict[str, tuple[bool, bool, bool]] = {}  # operator -> pause, reset, take_over
        self._chunk_duration = 0.0  # the longest n_execute * dt seen
        self._help_published = False
        # set by the node when another publisher of this robot's arm_command/control_state exists:
        # hold in every source, with this text as the reason (cleared: control resumes)
        self.conflict = ""

    # ------------------------------------------------------------------------------ properties
    @property
    def source(self) -> ControlSource:
        return self.mode.source

    @property
    def threshold(self) -> float:
        return self.gate.threshold

    @property
    def rejected_commands(self) -> int:
        return self.tally.rejected

    @property
    def clamped_commands(self) -> int:
        return self.tally.clamped

    def help_level(self) -> float:
        """The score above which the robot asks for help now (raised after an accepted hand-back)."""
        return self.gate.level()

    def min_intervention_s(self) -> float:
        """t_T: the configured minimum, and never less than one executed action chunk."""
        return max(self.config.min_intervention_s, self._chunk_duration)

    # --------------------------------------------------------------------------------- inputs
    def on_observation(self, obs: ObservationIn) -> None:
        pos = np.asarray(obs.ee_positions, float).reshape(self.n_arms, 3)
        if not all_finite(pos, obs.gripper, obs.ee_orientations):
            self._count("bad_observations")
            self.tally.warn("observation with non-finite values ignored")
            return
        obs.ee_positions = pos
        self.inputs.observation = obs
        self.episode = int(obs.episode)

    def on_action_chunk(self, chunk: ActionChunkIn) -> None:
        actions = np.asarray(chunk.actions, float)
        if actions.ndim == 1:
            actions = actions.reshape(1, -1)
        chunk.actions = actions
        self.inputs.chunk = chunk
        # A policy that republishes the rest of its plan sends a shrinking n_execute between re-plans:
        # the longest chunk seen is the one the human must cover.
        self._chunk_duration = max(self._chunk_duration, max(1, int(chunk.n_execute)) * float(chunk.dt))
        if actions.shape[1] in (3 * self.n_arms, 4 * self.n_arms, 5 * self.n_arms):
            self.commander.action_width = actions.shape[1] // self.n_arms
        valid = actions.shape[0] > 0 and all_finite(actions[0])
        if valid:
            try:
                split_action(actions[0], self.n_arms)
            except ValueError as exc:
                valid = False
                self.tally.warn(f"action chunk rejected: {exc}")
        if not valid:
            self.tally.reject(f"action chunk rejected (non-finite or malformed): total {self.tally.rejected + 1}")
        self.inputs.chunk_invalid = not valid

    def on_uncertainty(self, u: UncertaintyIn) -> None:
        if not np.isfinite(u.score):
            self._count("bad_uncertainty")
            self.tally.warn("non-finite uncertainty score ignored")
            return
        self.gate.observe(u.score, u.threshold)

    def on_teleop(self, t: TeleopIn) -> None:
        prev_pause, prev_reset, prev_take = self._prev_buttons.get(t.operator_id, (False, False, False))
        self._requests.pause |= t.pause and not prev_pause
        self._requests.reset |= t.reset and not prev_reset
        self._requests.take_over_released |= prev_take and not t.take_over
        self._prev_buttons[t.operator_id] = (bool(t.pause), bool(t.reset), bool(t.take_over))
        self.inputs.teleop = t
        arm = int(t.arm_index)
        valid = 0 <= arm < self.n_arms
        if t.mode == MODE_ABSOLUTE:
            valid = valid and t.position is not None and all_finite(t.position, t.orientation, [t.gripper])
        else:
            valid = valid and all_finite(t.delta_linear, t.delta_angular, [t.gripper])
        self.inputs.teleop_invalid = not valid
        if not valid:
            self.tally.reject(
                f"teleop command from {t.operator_id or t.device!r} rejected "
                f"(non-finite or bad arm_index {arm}): total {self.tally.rejected + 1}"
            )
        elif t.engaged:
            self.commander.human.add(t)

    def on_episode_event(self, ev: EpisodeEventIn) -> None:
        self._pending_events.append(ev)

    def request_source(self, source: ControlSource, operator_id: str = "", reason: str = "") -> ControlSource:
        """set_control_mode: applied on the next tick. Returns the source before the request."""
        if source not in _REQUESTABLE:
            raise ValueError(f"cannot request source {source!r}")
        self._requests.control_mode = (ControlSource(source), operator_id, reason)
        return self.source

    def on_reset_done(self, success: bool, episode: int | None = None, message: str = "") -> None:
        """Result of the reset_episode call made after a RESET request."""
        if self.mode != Mode.RESET:
            return
        if success:
            self._pending_events.append(
                EpisodeEventIn(0.0, episode if episode is not None else self.episode, EpisodeEventType.RESET)
            )
        else:
            self._enter(Transition(Mode.PAUSED, Reason.PAUSE, f"hard reset failed ({message}); paused"), 0.0)

    # ---------------------------------------------------------------------------------- ticks
    def watchdog(self, now: float) -> ArbiterOutput | None:
        """Fast check between control ticks: a full tick (a hold) as soon as a hold becomes due."""
        if self.hold is not None or watchdog_hold(self.source, self.inputs, now, self.config, self.conflict) is None:
            return None
        return self.tick(now)

    def tick(self, now: float) -> ArbiterOutput:
        """One control tick: apply pending events and requests, update the control mode, produce the command."""
        reset_request = self._apply_requests(now)
        transition = decide(self.mode, self._gating_view(now), self.config)
        if transition is not None:
            self._enter(transition, now)
        self._follow_operator(now)
        proposed = self._policy_action(now)
        hold = watchdog_hold(self.source, self.inputs, now, self.config, self.conflict)
        command, human_action = None, None
        if hold is None and self.source == ControlSource.POLICY:
            command = self.commander.policy(proposed, self.inputs.observation)
        elif hold is None and self.source == ControlSource.HUMAN:
            command = self.commander.human_command(self.inputs.observation)
            if command is not None:
                human_action = self.commander.as_action(command)
                self.human_steps += 1
        if hold is None and command is None and self.source in (ControlSource.POLICY, ControlSource.HUMAN):
            hold = Hold(Reason.INVALID_COMMAND, "invalid command rejected: holding")
        if self.source != ControlSource.HUMAN:  # deltas only count while the human drives
            self.commander.human.clear_deltas()
        if command is None:
            command = self._hold_command(now, hold)
        else:
            self.hold = None
        return ArbiterOutput(
            now,
            command,
            self._state(now),
            proposed,
            human_action,
            self._help_output(),
            reset_request,
            self.human_steps,
            self._take_log(),
        )

    # ------------------------------------------------------------------------------ internals
    def _follow_operator(self, now: float) -> None:
        """In human control, name the operator whose fresh command drives: in a fleet the allocator hands a
        robot from one operator to another without leaving human control, and the state (and the
        recording) must say who drove each step."""
        t = self.inputs.teleop
        if (self.source != ControlSource.HUMAN or t is None or not t.operator_id or t.operator_id == self.operator
                or not t.engaged or not self.inputs.teleop_fresh(now, self.config)):
            return
        self.tally.info(f"HUMAN: {self.operator or 'operator'} -> {t.operator_id} (its commands drive now)")
        self.operator = t.operator_id

    def _count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    def _take_log(self) -> list[LogRecord]:
        log, self.tally.log = self.tally.log, []
        return log

    def _enter(self, t: Transition, now: float) -> None:
        """Make a mode transition (log it, start or end the intervention)."""
        text = t.text
        if t.hand_back and self.gate.accept_handback():
            text += f"; next help request above {self.gate.level():.3f}"
        if (t.mode, t.reason) != (self.mode, self.reason):
            self.tally.info(f"{self.source.name} -> {t.mode.source.name}: {t.reason.name} ({text})")
        if t.mode.source == ControlSource.HUMAN:
            if self.source != ControlSource.HUMAN:
                self.intervention_start = now
            self.operator = t.operator
        else:
            self.intervention_start = None
            self.operator = ""
            self.commander.human.absolute.clear()
        self.mode, self.reason, self.reason_text = t.mode, t.reason, text

    def _gating_view(self, now: float) -> GatingView:
        fresh = self.inputs.teleop_fresh(now, self.config)
        t = self.inputs.teleop
        released, self._requests.take_over_released = self._requests.take_over_released, False
        return GatingView(
            take_over=self.config.human_gating and fresh and t.take_over,
            take_over_released=released,
            engaged=fresh and t.engaged,
            operator=t.operator_id if t is not None else "",
            score=self.gate.score,
            score_high=self.gate.is_high(),
            score_released=self.gate.is_released(),
            threshold=self.gate.threshold,
            help_level=self.gate.level(),
            release_level=self.gate.release_level,
            low_count=self.gate.low_count,
            intervention_elapsed=self._intervention_elapsed(now),
            min_intervention_s=self.min_intervention_s(),
            awaiting_hard_reset=self.failed_episode is not None,
        )

    def _apply_requests(self, now: float) -> bool:
        """Episode events, then the reset edge, the pause edge and set_control_mode. True: call reset_episode."""
        for ev in self._pending_events:
            self._apply_episode_event(ev, now)
        self._pending_events.clear()
        req = self._requests
        reset_request = False
        if req.reset:
            req.reset = False
            if self.mode != Mode.RESET:
                self._enter(Transition(Mode.RESET, Reason.RESET, "hard reset requested by the operator"), now)
                reset_request = True
                self._count("resets")
        if req.pause:
            req.pause = False
            if self.mode == Mode.PAUSED:
                self._enter(Transition(Mode.POLICY, Reason.RESUME, "resumed by the operator"), now)
            elif self.mode != Mode.RESET:
                self._enter(Transition(Mode.PAUSED, Reason.PAUSE, "paused by the operator"), now)
        if req.control_mode is not None:
            source, operator, text = req.control_mode
            req.control_mode = None
            if self.mode == Mode.RESET:
                self.tally.warn("set_control_mode ignored during a hard reset")
            elif source == ControlSource.POLICY:
                self._enter(
                    Transition(Mode.POLICY, Reason.OPERATOR_RELEASED, text or "handed back by set_control_mode",
                               hand_back=True),
                    now,
                )
            elif source == ControlSource.PAUSED:
                self._enter(Transition(Mode.PAUSED, Reason.PAUSE, text or "paused by set_control_mode"), now)
            else:
                self._enter(
                    Transition(Mode.HUMAN_BY_REQUEST, Reason.HUMAN_GATED, text or "taken over by set_control_mode",
                               operator),
                    now,
                )
        return reset_request

    def _apply_episode_event(self, ev: EpisodeEventIn, now: float) -> None:
        # A robot-gated intervention or request belongs to its episode; a human-gated one survives.
        if ev.event in (EpisodeEventType.START, EpisodeEventType.RESET):
            self.episode = int(ev.episode)
            self.gate.new_episode()
            self.failed_episode = None
            self.human_steps = 0
            if self.mode in (Mode.RESET, Mode.HUMAN_ROBOT_GATED, Mode.AWAITING_HELP):
                self._enter(Transition(Mode.POLICY, Reason.NONE, f"episode {ev.episode} started"), now)
        elif ev.event == EpisodeEventType.END:
            if ev.failed:
                self.failed_episode = int(ev.episode)
                self.tally.warn(f"episode {ev.episode} failed: hard reset needed")
            if self.mode in (Mode.HUMAN_ROBOT_GATED, Mode.AWAITING_HELP):
                self._enter(Transition(Mode.POLICY, Reason.NONE, f"episode {ev.episode} ended"), now)

    def _intervention_elapsed(self, now: float) -> float:
        if self.source == ControlSource.HUMAN and self.intervention_start is not None:
            return now - self.intervention_start
        return 0.0

    def _policy_action(self, now: float) -> np.ndarray | None:
        c = self.inputs.chunk
        if c is None or self.inputs.chunk_invalid or now - c.stamp > self.config.policy_timeout_s:
            return None
        return c.actions[0].copy()

    def _hold_command(self, now: float, hold: Hold | None) -> CommandOut:
        """Hold the arm; count the watchdog cause and log it when it changes."""
        if hold is None:
            hold = Hold(None, self.reason_text)
        else:
            self._count(hold.cause.name.lower())
            if self.hold is None or self.hold.cause != hold.cause:
                self.tally.log.append(LogRecord(LogLevel.WARNING, f"holding: {hold.text}"))
        self.hold = hold
        obs_fresh = self.inputs.observation_fresh(now, self.config)
        return self.commander.hold(self.source, self.inputs.observation, obs_fresh)

    def _state(self, now: float) -> ControlStateOut:
        watchdog = self.hold is not None and self.hold.cause is not None
        return ControlStateOut(
            source=self.source,
            reason=self.hold.cause if watchdog else self.reason,
            reason_text=self.hold.text if watchdog else self.reason_text,
            robot_id=self.config.robot_id,
            operator_id=self.operator if self.source == ControlSource.HUMAN else "",
            episode=self.episode,
            step=int(self.inputs.observation.step) if self.inputs.observation is not None else 0,
            holding=self.hold is not None,
            help_requested=self.mode.help_requested,
            uncertainty=float(self.gate.score) if self.gate.score is not None else 0.0,
            threshold=self.threshold if np.isfinite(self.threshold) else 0.0,
            intervention_elapsed=float(self._intervention_elapsed(now)),
            rejected_commands=self.tally.rejected,
            clamped_commands=self.tally.clamped,
        )

    def _help_output(self) -> HelpRequestOut | None:
        """Every tick while help is requested (uncertainty or a failed episode), once on withdrawal."""
        active = self.mode.help_requested or self.failed_episode is not None
        if not active and not self._help_published:
            return None
        self._help_published = active
        score = float(self.gate.score) if self.gate.score is not None else 0.0
        reason = HelpReason.HARD_RESET if self.failed_episode is not None else HelpReason.UNCERTAINTY
        return HelpRequestOut(self.config.robot_id, active, score, score, reason)
