"""The arbiter's explicit modes, the per-mode gating handlers and the levels of its log records."""

from __future__ import annotations

import numpy as np
from hitl_teleop.arbiter import MODE_ABSOLUTE, LogLevel, Mode, Reason, Source
from hitl_teleop.arbiter.config import ArbiterConfig
from hitl_teleop.arbiter.modes import GatingView, decide
from test_arbiter import HOME, Rig, teleop


def view(**kw) -> GatingView:
    base = dict(take_over=False, take_over_released=False, engaged=False, operator="op1", score=0.1,
                score_high=False, score_released=False, threshold=1.0, help_level=1.0, release_level=0.8,
                low_count=0, intervention_elapsed=0.0, min_intervention_s=0.0, awaiting_hard_reset=False)
    return GatingView(**{**base, **kw})


def test_modes_along_a_robot_gated_intervention():
    rig = Rig(release_ticks=1)
    rig.step()
    assert rig.arb.mode == Mode.POLICY
    rig.score = 2.0
    rig.step()
    assert rig.arb.mode == Mode.AWAITING_HELP and rig.arb.mode.source == Source.PAUSED
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    rig.step(teleop=op)
    assert rig.arb.mode == Mode.HUMAN_ROBOT_GATED
    rig.score = 0.0
    out = rig.step(6, teleop=op)
    assert rig.arb.mode == Mode.POLICY and out.state.reason == Reason.UNCERTAINTY_LOW


def test_policy_handler_asks_for_help_only_with_robot_gating_and_no_pending_hard_reset():
    high = view(score=2.0, score_high=True)
    assert decide(Mode.POLICY, high, ArbiterConfig(gating="robot")).mode == Mode.AWAITING_HELP
    assert decide(Mode.POLICY, high, ArbiterConfig(gating="human")) is None
    assert decide(Mode.POLICY, view(score=2.0, score_high=True, awaiting_hard_reset=True), ArbiterConfig()) is None
    assert decide(Mode.POLICY, view(take_over=True), ArbiterConfig()).mode == Mode.HUMAN_HUMAN_GATED


def test_human_gated_release_hands_back_or_asks_for_help():
    cfg = ArbiterConfig(gating="both")
    assert decide(Mode.HUMAN_HUMAN_GATED, view(take_over=True), cfg) is None  # still held
    back = decide(Mode.HUMAN_HUMAN_GATED, view(), cfg)
    assert back.mode == Mode.POLICY and back.reason == Reason.OPERATOR_RELEASED and back.hand_back
    again = decide(Mode.HUMAN_HUMAN_GATED, view(score=2.0, score_high=True), cfg)
    assert again.mode == Mode.AWAITING_HELP and again.reason == Reason.ROBOT_GATED
    accepted = decide(Mode.HUMAN_HUMAN_GATED, view(score=2.0, score_high=True), ArbiterConfig(rearm_ratio=1.5))
    assert accepted.mode == Mode.POLICY and accepted.hand_back


def test_robot_gated_intervention_respects_the_minimum_time():
    cfg = ArbiterConfig()
    low = dict(score=0.0, score_released=True, min_intervention_s=0.4)
    assert decide(Mode.HUMAN_ROBOT_GATED, view(**low, intervention_elapsed=0.3), cfg) is None
    assert decide(Mode.HUMAN_ROBOT_GATED, view(**low, intervention_elapsed=0.4), cfg).reason == Reason.UNCERTAINTY_LOW


def test_only_requests_and_episode_events_leave_paused_reset_and_human_by_request():
    anything = view(take_over=True, engaged=True, score=9.0, score_high=True, take_over_released=True)
    for mode in (Mode.PAUSED, Mode.RESET, Mode.HUMAN_BY_REQUEST):
        assert decide(mode, anything, ArbiterConfig()) is None


def test_set_control_mode_human_withdraws_a_pending_help_request():
    rig = Rig()
    rig.score = 2.0
    out = rig.step()
    assert out.state.help_requested
    rig.arb.request_source(Source.HUMAN, "op9")
    out = rig.step(teleop=teleop(operator_id="op9", mode=MODE_ABSOLUTE, position=HOME))
    assert rig.arb.mode == Mode.HUMAN_BY_REQUEST and out.state.source == Source.HUMAN
    assert not out.state.help_requested and out.help_request is not None and not out.help_request.active


def test_log_records_carry_their_level():
    rig = Rig()
    rig.step()
    rig.policy_target = np.array([[5.0, 0.0, 0.4]])  # far outside the workspace: clamped
    clamp = rig.step().log
    assert clamp and all(r.level == LogLevel.INFO and r.routine for r in clamp)
    rig.policy_alive = False  # the policy stops: a hold with a warning, once
    logs = [r for _ in range(4) for r in rig.step().log]
    holds = [r for r in logs if r.level == LogLevel.WARNING]
    assert len(holds) == 1 and rig.out.state.reason == Reason.STALE_POLICY
    rig.policy_alive = True
    rig.score = 2.0
    transition = [r for r in rig.step().log if not r.routine]
    assert transition and all(r.level == LogLevel.INFO for r in transition)
    assert rig.arb.mode == Mode.AWAITING_HELP


def test_a_conflict_holds_in_every_source_until_cleared():
    rig = Rig()
    rig.step()
    rig.arb.conflict = "another arbiter publishes arm_command: holding"
    out = rig.step()
    assert out.command.hold and out.state.reason == Reason.INVALID_COMMAND and "another" in out.state.reason_text
    rig.step(teleop=teleop(pause=True, engaged=False))
    out = rig.step(teleop=teleop(pause=False, engaged=False))
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.INVALID_COMMAND
    rig.arb.conflict = ""
    out = rig.step(teleop=teleop(pause=True, engaged=False))  # resume
    assert out.state.source == Source.POLICY and not out.command.hold
