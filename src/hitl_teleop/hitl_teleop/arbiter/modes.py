"""The arbiter's gating decision: one handler per control mode (docs/arbiter.md, State machine).

Each tick, after episode events and the reset / pause / set_control_mode requests, the handler of the
current mode looks at what the operator's device and the uncertainty say (``GatingView``) and returns
the transition to make, or None to stay. This is where "why did the robot ask for help here?" is
answered: ``_policy`` (the score passed the help level) and ``_human_human_gated`` (the operator let
go while the score was still high).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hitl_teleop.arbiter.config import ArbiterConfig
from hitl_teleop.arbiter.types import Mode, Reason


@dataclass(frozen=True)
class GatingView:
    """What the gating decision sees on one tick."""

    take_over: bool  # the take-over button is held on a fresh device (human gating only)
    take_over_released: bool  # the take-over button was released since the last tick
    engaged: bool  # a fresh device reports its deadman engaged
    operator: str  # the operator of the latest teleop sample
    score: float | None  # the latest uncertainty score
    score_high: bool  # score > help level
    score_released: bool  # score below the release level for release_ticks messages
    threshold: float
    help_level: float  # the threshold, raised after an accepted hand-back
    release_level: float
    low_count: int
    intervention_elapsed: float  # seconds since the current intervention began (0 if none)
    min_intervention_s: float  # t_T
    awaiting_hard_reset: bool  # the last episode failed: its help request is a hard reset, not uncertainty


@dataclass(frozen=True)
class Transition:
    mode: Mode
    reason: Reason
    text: str
    operator: str = ""
    hand_back: bool = False  # an operator handed control back (may raise the help level, rearm_ratio)


def decide(mode: Mode, view: GatingView, config: ArbiterConfig) -> Transition | None:
    """The transition the gating rules make from ``mode`` on this tick (None: stay)."""
    return _HANDLERS[mode](view, config)


def _taken_over(view: GatingView) -> Transition:
    return Transition(
        Mode.HUMAN_HUMAN_GATED, Reason.HUMAN_GATED, f"{view.operator or 'operator'} took over", view.operator
    )


def _policy(view: GatingView, config: ArbiterConfig) -> Transition | None:
    if view.take_over:
        return _taken_over(view)
    if config.robot_gating and view.score_high and not view.awaiting_hard_reset:
        return Transition(
            Mode.AWAITING_HELP,
            Reason.ROBOT_GATED,
            f"uncertainty {view.score:.3f} > threshold {view.threshold:.3f}: asking for help",
        )
    return None


def _awaiting_help(view: GatingView, config: ArbiterConfig) -> Transition | None:
    if view.take_over:
        return _taken_over(view)
    if config.robot_gating and view.engaged:
        return Transition(
            Mode.HUMAN_ROBOT_GATED,
            Reason.ROBOT_GATED,
            f"{view.operator or 'operator'} answered the help request",
            view.operator,
        )
    return None


def _human_robot_gated(view: GatingView, config: ArbiterConfig) -> Transition | None:
    if view.take_over:  # both gating: the operator's own take-over from here on
        return _taken_over(view)
    if not config.robot_gating:
        return None
    if view.take_over_released:
        return Transition(
            Mode.POLICY,
            Reason.OPERATOR_RELEASED,
            "operator handed back (take-over button pressed and released)",
            hand_back=True,
        )
    if view.intervention_elapsed >= view.min_intervention_s - 1e-9 and view.score_released:
        return Transition(
            Mode.POLICY,
            Reason.UNCERTAINTY_LOW,
            f"score below {view.release_level:.3f} for {view.low_count} steps after "
            f"{view.intervention_elapsed:.2f} s",
        )
    return None


def _human_human_gated(view: GatingView, config: ArbiterConfig) -> Transition | None:
    if view.take_over:
        return None
    if config.robot_gating and view.score_high and config.rearm_ratio <= 0:
        return Transition(
            Mode.AWAITING_HELP,
            Reason.ROBOT_GATED,
            f"operator released but score {view.score:.3f} > {view.help_level:.3f}: asking for help",
        )
    return Transition(Mode.POLICY, Reason.OPERATOR_RELEASED, "operator released the take-over button", hand_back=True)


def _stay(view: GatingView, config: ArbiterConfig) -> Transition | None:
    """HUMAN_BY_REQUEST, PAUSED and RESET end only by a request or an episode event (core.Arbiter)."""
    return None


_HANDLERS: dict[Mode, Callable[[GatingView, ArbiterConfig], Transition | None]] = {
    Mode.POLICY: _policy,
    Mode.AWAITING_HELP: _awaiting_help,
    Mode.HUMAN_ROBOT_GATED: _human_robot_gated,
    Mode.HUMAN_HUMAN_GATED: _human_human_gated,
    Mode.HUMAN_BY_REQUEST: _stay,
    Mode.PAUSED: _stay,
    Mode.RESET: _stay,
}
