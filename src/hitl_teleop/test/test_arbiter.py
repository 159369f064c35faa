"""Arbiter state machine (pure logic, fake clock): gating, hysteresis, watchdogs, deadman, safety, reset."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_sim.arms import load_arm_profile
from hitl_teleop.arbiter import (
    MODE_ABSOLUTE,
    MODE_DELTA,
    ActionChunkIn,
    Arbiter,
    ArbiterConfig,
    EpisodeEventIn,
    EpisodeEventType,
    HelpReason,
    ObservationIn,
    Reason,
    Source,
    TeleopIn,
    UncertaintyIn,
    join_action,
    split_action,
    yaw_to_quat,
)
from hitl_teleop.tool_frame import ToolFrame

DT = 0.1
FRANKA = load_arm_profile("franka")
HOME = FRANKA.home[0]


class Rig:
    """A robot at 10 Hz: observation, fresh chunk and uncertainty every tick, then arbiter.tick."""

    def __init__(self, profile=FRANKA, **cfg):
        cfg.setdefault("threshold", 1.0)
        self.profile = profile
        self.arb = Arbiter(ArbiterConfig(**cfg), profile)
        self.t = 100.0
        self.pos = profile.home.copy()
        self.score = 0.1
        self.policy_alive = True
        self.policy_target = profile.home.copy()
        self.chunk_actions: np.ndarray | None = None
        self.out = None

    def feed(self) -> None:
        self.arb.on_observation(ObservationIn(self.t, self.pos.copy(), np.zeros(self.profile.n_arms), step=3))
        if self.policy_alive:
            actions = self.chunk_actions
            if actions is None:
                row = np.concatenate([self.policy_target, np.full((self.profile.n_arms, 1), 0.5)], axis=1)
                actions = np.tile(row.reshape(1, -1), (8, 1))
            self.arb.on_action_chunk(ActionChunkIn(self.t, actions, n_execute=4, dt=DT))
        self.arb.on_uncertainty(UncertaintyIn(self.t, self.score))

    def step(self, n: int = 1, teleop: TeleopIn | None = None, feed: bool = True):
        for _ in range(n):
            if feed:
                self.feed()
            if teleop is not None:
                teleop.stamp = self.t
                self.arb.on_teleop(teleop)
            self.out = self.arb.tick(self.t)
            if not self.out.command.hold:
                self.pos = self.out.command.positions.copy()
            self.t += DT
        return self.out


def teleop(**kw) -> TeleopIn:
    kw.setdefault("operator_id", "op1")
    kw.setdefault("engaged", True)
    kw.setdefault("stamp", 0.0)
    return TeleopIn(**kw)


def test_policy_drives_when_confident():
    rig = Rig()
    rig.policy_target = HOME + np.array([[0.01, 0.0, 0.0]])
    out = rig.step(2)
    assert out.state.source == Source.POLICY and not out.state.holding
    np.testing.assert_allclose(out.command.positions, rig.policy_target)
    np.testing.assert_allclose(out.command.gripper, [0.5])
    np.testing.assert_allclose(out.proposed, np.r_[rig.policy_target[0], 0.5])


def test_robot_gated_handover_and_return_with_hysteresis_and_min_time():
    rig = Rig(release_ratio=0.5, release_ticks=3, min_intervention_s=0.0)
    rig.step(2)
    rig.score = 2.0
    out = rig.step()
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.ROBOT_GATED
    assert out.state.help_requested and out.command.hold
    assert out.help_request is not None and out.help_request.active and out.help_request.priority == 2.0
    # the operator answers: HUMAN on this tick (teleop delivered before the tick)
    target = HOME + np.array([0.02, 0.0, 0.0])
    op = teleop(mode=MODE_ABSOLUTE, position=target, gripper=1.0)
    out = rig.step(teleop=op)
    assert out.state.source == Source.HUMAN and out.state.reason == Reason.ROBOT_GATED
    assert out.state.operator_id == "op1" and not out.command.hold
    np.testing.assert_allclose(out.command.positions[0], target)
    assert out.command.gripper[0] == 1.0
    assert out.proposed is not None  # the robot's own proposal is kept while the human drives
    # score between release level (0.5) and threshold (1.0): no return (hysteresis)
    rig.score = 0.7
    for _ in range(6):
        assert rig.step(teleop=op).state.source == Source.HUMAN
    # below the release level: returns only after release_ticks consecutive low scores
    rig.score = 0.2
    assert rig.step(teleop=op).state.source == Source.HUMAN
    assert rig.step(teleop=op).state.source == Source.HUMAN
    out = rig.step(teleop=op)
    assert out.state.source == Source.POLICY and out.state.reason == Reason.UNCERTAINTY_LOW
    assert not out.state.help_requested and out.state.operator_id == ""
    assert out.help_request is not None and not out.help_request.active  # withdrawal published once
    assert rig.step(teleop=op).help_request is None


def test_one_high_score_resets_the_release_count():
    rig = Rig(release_ratio=0.5, release_ticks=3)
    rig.score = 2.0
    rig.step()
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    rig.step(teleop=op)
    for score in (0.1, 0.1, 0.9, 0.1, 0.1):
        rig.score = score
        assert rig.step(teleop=op).state.source == Source.HUMAN
    rig.score = 0.1
    assert rig.step(teleop=op).state.source == Source.POLICY


def test_minimum_intervention_time_is_at_least_one_chunk():
    rig = Rig(release_ticks=1, min_intervention_s=0.0)  # chunks: n_execute 4 x 0.1 s
    rig.score = 2.0
    rig.step()
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    rig.score = 0.0
    start = rig.t
    out = rig.step(teleop=op)
    assert out.state.source == Source.HUMAN
    while out.state.source == Source.HUMAN:
        out = rig.step(teleop=op)
        assert rig.t - start < 2.0
    assert out.state.reason == Reason.UNCERTAINTY_LOW
    # returned on the first tick with elapsed >= 0.4 s (4 actions x 0.1 s)
    assert out.stamp - start == pytest.approx(0.4)
    assert rig.arb.min_intervention_s() == pytest.approx(0.4)


def test_minimum_intervention_keeps_the_full_chunk_when_the_rest_of_a_plan_is_republished():
    rig = Rig(release_ticks=1, min_intervention_s=0.0)  # a re-plan: n_execute 4 x 0.1 s
    rig.step()
    # between re-plans the policy node republishes the remaining actions: n_execute 3, 2, 1
    for remaining in (3, 2, 1):
        rig.arb.on_action_chunk(ActionChunkIn(rig.t, np.tile(np.r_[HOME, 0.0], (4, 1)), n_execute=remaining, dt=DT))
    assert rig.arb.min_intervention_s() == pytest.approx(0.4)


def test_longer_configured_minimum_wins():
    rig = Rig(release_ticks=1, min_intervention_s=1.0)
    rig.score = 2.0
    rig.step()
    rig.score = 0.0
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    start = rig.t
    out = rig.step(teleop=op)
    while out.state.source == Source.HUMAN:
        assert out.state.intervention_elapsed == pytest.approx(out.stamp - start)
        out = rig.step(teleop=op)
    assert out.stamp - start == pytest.approx(1.0)


def test_human_gated_takeover_on_next_tick_and_release():
    rig = Rig(gating="both")
    rig.step(2)
    target = HOME + np.array([0.0, 0.01, 0.0])
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=target))
    assert out.state.source == Source.HUMAN and out.state.reason == Reason.HUMAN_GATED
    np.testing.assert_allclose(out.command.positions[0], target)
    out = rig.step(teleop=teleop(take_over=False, engaged=False))
    assert out.state.source == Source.POLICY and out.state.reason == Reason.OPERATOR_RELEASED


def test_human_gated_release_while_uncertain_asks_for_help():
    rig = Rig(gating="both")
    rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME))
    rig.score = 5.0
    out = rig.step(teleop=teleop(take_over=False, engaged=False))
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.ROBOT_GATED
    assert out.state.help_requested


def test_take_over_ignored_when_robot_gated_only():
    rig = Rig(gating="robot")
    out = rig.step(2, teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME))
    assert out.state.source == Source.POLICY


def test_no_help_requests_when_human_gated_only():
    rig = Rig(gating="human")
    rig.score = 9.0
    out = rig.step(3)
    assert out.state.source == Source.POLICY and not out.state.help_requested


def test_pause_edge_toggles_and_resume():
    rig = Rig()
    rig.step()
    out = rig.step(teleop=teleop(pause=True, engaged=False))
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.PAUSE and out.command.hold
    # the button still held: no second edge, stays paused; high score does not leave PAUSE
    rig.score = 3.0
    out = rig.step(3, teleop=teleop(pause=True, engaged=False))
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.PAUSE
    rig.score = 0.1
    rig.step(teleop=teleop(pause=False, engaged=False))
    out = rig.step(teleop=teleop(pause=True, engaged=False))
    assert out.state.source == Source.POLICY and out.state.reason == Reason.RESUME and not out.command.hold


def test_hard_reset_request_and_recovery():
    rig = Rig()
    rig.step()
    out = rig.step(teleop=teleop(reset=True, engaged=False))
    assert out.reset_request and out.state.source == Source.RESET and out.command.hold
    assert out.state.reason == Reason.RESET
    out = rig.step(teleop=teleop(reset=True, engaged=False))
    assert not out.reset_request and out.state.source == Source.RESET  # one call per press
    rig.arb.on_episode_event(EpisodeEventIn(rig.t, 7, EpisodeEventType.START))
    out = rig.step()
    assert out.state.source == Source.POLICY and out.state.episode == 7
    assert rig.arb.counters["resets"] == 1


def test_failed_reset_call_pauses():
    rig = Rig()
    rig.step(teleop=teleop(reset=True, engaged=False))
    rig.arb.on_reset_done(False, message="driver busy")
    out = rig.step()
    assert out.state.source == Source.PAUSED and "driver busy" in out.state.reason_text


def test_failed_episode_requests_hard_reset_with_top_reason():
    rig = Rig()
    rig.step()
    rig.arb.on_episode_event(EpisodeEventIn(rig.t, 1, EpisodeEventType.END, failed=True))
    out = rig.step()
    assert out.help_request is not None and out.help_request.reason == HelpReason.HARD_RESET
    rig.arb.on_episode_event(EpisodeEventIn(rig.t, 2, EpisodeEventType.START))
    out = rig.step()
    assert out.help_request is not None and not out.help_request.active


def test_episode_start_ends_robot_gated_intervention():
    rig = Rig()
    rig.score = 2.0
    rig.step()
    rig.step(teleop=teleop(mode=MODE_ABSOLUTE, position=HOME))
    assert rig.out.state.source == Source.HUMAN
    rig.arb.on_episode_event(EpisodeEventIn(rig.t, 1, EpisodeEventType.START))
    rig.score = 0.0
    out = rig.step()
    assert out.state.source == Source.POLICY and out.human_steps == 0


def test_policy_watchdog_holds_and_says_why():
    rig = Rig(policy_timeout_s=0.15)
    rig.policy_target = HOME + np.array([[0.01, 0, 0]])
    rig.step(3)
    last_chunk = rig.t - DT
    rig.policy_alive = False
    arb = rig.arb
    # the fast watchdog (50 Hz) between ticks: nothing until the chunk is older than the timeout
    t = last_chunk
    fired = None
    while fired is None:
        t += 0.02
        arb.on_observation(ObservationIn(t, rig.pos.copy()))
        fired = arb.watchdog(t)
    assert fired.state.holding and fired.command.hold
    assert fired.state.reason == Reason.STALE_POLICY and "action chunk" in fired.state.reason_text
    assert 0.15 < t - last_chunk <= 0.15 + 0.02 + 1e-9
    # the hold target is the current pose and does not drift; the watchdog does not fire twice
    np.testing.assert_allclose(fired.command.positions, rig.pos)
    assert arb.watchdog(t + 0.02) is None
    # policy back: drives again, speed-limited from the hold pose
    rig.t = t + 0.02
    rig.policy_alive = True
    out = rig.step()
    assert not out.state.holding and out.state.source == Source.POLICY


def test_observation_watchdog():
    rig = Rig(observation_timeout_s=0.3)
    rig.step(2)
    t = rig.t
    rig.arb.on_action_chunk(ActionChunkIn(t + 0.35, np.tile(np.r_[HOME, 0.0], (4, 1))))
    out = rig.arb.tick(t + 0.35)
    assert out.state.holding and out.state.reason == Reason.STALE_OBSERVATION


def test_two_stale_inputs_name_the_one_silent_longest():
    """A policy killed seconds before the observations lag (a loaded machine) is STALE_POLICY;
    observations that stop first (the policy then stops for want of them) are STALE_OBSERVATION."""
    rig = Rig(observation_timeout_s=0.3, policy_timeout_s=0.15)
    rig.step(2)
    rig.policy_alive = False
    rig.step(30)  # the policy has been dead 3 s
    out = rig.arb.tick(rig.t + 0.35)  # and now the observations lag too
    assert out.state.holding and out.state.reason == Reason.STALE_POLICY
    assert "also observation" in out.state.reason_text

    rig = Rig(observation_timeout_s=0.3, policy_timeout_s=0.15)
    rig.step(2)
    t_obs = rig.t
    rig.arb.on_action_chunk(ActionChunkIn(t_obs + 0.2, np.tile(np.r_[HOME, 0.0], (4, 1))))
    out = rig.arb.tick(t_obs + 0.6)  # observations stopped first, the last chunk came after
    assert out.state.holding and out.state.reason == Reason.STALE_OBSERVATION
    assert "also action chunk" in out.state.reason_text


def test_dead_device_named_over_lagging_observations():
    rig = Rig(device_timeout_s=0.15, observation_timeout_s=0.3)
    rig.score = 2.0
    rig.step()
    rig.step(teleop=teleop(mode=MODE_ABSOLUTE, position=HOME + np.array([0.01, 0, 0])))
    assert rig.out.state.source == Source.HUMAN
    rig.step(20)  # the device has been silent 2 s
    out = rig.arb.tick(rig.t + 0.35)
    assert out.state.holding and out.state.reason == Reason.STALE_DEVICE


def test_startup_holds_until_inputs_arrive():
    arb = Arbiter(ArbiterConfig(threshold=1.0), FRANKA)
    out = arb.tick(0.0)
    assert out.command.hold and out.state.reason == Reason.STALE_OBSERVATION
    np.testing.assert_allclose(out.command.positions, FRANKA.home)
    arb.on_observation(ObservationIn(0.05, FRANKA.home))
    out = arb.tick(0.1)
    assert out.command.hold and out.state.reason == Reason.STALE_POLICY


def test_device_watchdog_and_deadman():
    rig = Rig(device_timeout_s=0.3)
    rig.score = 2.0
    rig.step()
    op = teleop(mode=MODE_ABSOLUTE, position=HOME + np.array([0.01, 0, 0]))
    rig.step(teleop=op)
    assert rig.out.state.source == Source.HUMAN
    out = rig.step(teleop=teleop(engaged=False, mode=MODE_ABSOLUTE, position=HOME))
    assert out.state.source == Source.HUMAN and out.state.holding
    assert out.state.reason == Reason.DEADMAN_RELEASED
    out = rig.step(teleop=op)
    assert not out.state.holding
    out = rig.step(4)  # no teleop for 0.4 s
    assert out.state.holding and out.state.reason == Reason.STALE_DEVICE


def test_delta_mode_adds_to_last_target_and_accumulates_samples():
    rig = Rig(gating="human")
    rig.step()
    d = teleop(take_over=True, mode=MODE_DELTA, delta_linear=np.array([0.005, 0.0, 0.0]), gripper=0.3)
    rig.feed()
    for _ in range(3):  # a 30 Hz device: three samples per control tick
        d.stamp = rig.t
        rig.arb.on_teleop(d)
    out = rig.arb.tick(rig.t)
    np.testing.assert_allclose(out.command.positions[0], HOME + np.array([0.015, 0, 0]))
    assert out.command.gripper[0] == pytest.approx(0.3)
    np.testing.assert_allclose(out.human_action, np.r_[HOME + np.array([0.015, 0, 0]), 0.3])


def test_angular_delta_rotates_and_is_speed_limited():
    rig = Rig(gating="human")
    rig.step()
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_DELTA, delta_angular=np.array([0.0, 0.0, 1.0])))
    q = out.command.orientations[0]
    angle = 2 * np.arccos(np.clip(abs(q[3]), 0, 1))
    assert angle == pytest.approx(FRANKA.max_angular_speed * DT)


def test_nan_policy_rejected_and_counted():
    rig = Rig()
    rig.step()
    bad = np.tile(np.r_[HOME, 0.0], (4, 1))
    bad[0, 1] = np.nan
    rig.chunk_actions = bad
    out = rig.step()
    assert out.state.holding and out.state.reason == Reason.INVALID_COMMAND
    assert out.state.rejected_commands == 1 and np.all(np.isfinite(out.command.positions))
    rig.chunk_actions = None
    out = rig.step()
    assert not out.state.holding and out.state.rejected_commands == 1


def test_inf_teleop_rejected():
    rig = Rig(gating="human")
    rig.step()
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=np.array([np.inf, 0, 0.3])))
    assert out.state.source == Source.HUMAN and out.state.holding
    assert out.state.reason == Reason.INVALID_COMMAND and out.state.rejected_commands == 1


def test_out_of_workspace_clamped_and_speed_limited():
    rig = Rig()
    rig.step()
    rig.policy_target = np.array([[5.0, 0.0, 0.4]])
    out = rig.step()
    assert out.state.clamped_commands == 1
    step = np.linalg.norm(out.command.positions[0] - HOME)
    assert step == pytest.approx(FRANKA.max_step())
    for _ in range(60):
        out = rig.step()
    assert out.command.positions[0][0] == pytest.approx(FRANKA.workspace_max[0])
    assert out.state.clamped_commands == 61


def test_action_dim_mismatch_rejected():
    rig = Rig()
    rig.chunk_actions = np.zeros((4, 7))
    out = rig.step()
    assert out.state.reason == Reason.INVALID_COMMAND and out.state.rejected_commands == 1


def test_set_control_mode_service_requests():
    rig = Rig()
    rig.step()
    assert rig.arb.request_source(Source.HUMAN, "op9", "manual") == Source.POLICY
    out = rig.step(teleop=teleop(operator_id="op9", mode=MODE_ABSOLUTE, position=HOME))
    assert out.state.source == Source.HUMAN and out.state.operator_id == "op9"
    out = rig.step(2, teleop=teleop(operator_id="op9", mode=MODE_ABSOLUTE, position=HOME))
    assert out.state.source == Source.HUMAN  # forced: no take_over button needed
    rig.arb.request_source(Source.POLICY)
    out = rig.step()
    assert out.state.source == Source.POLICY and out.state.reason == Reason.OPERATOR_RELEASED
    with pytest.raises(ValueError):
        rig.arb.request_source(Source.RESET)


def test_two_arm_profile_commands_each_arm():
    yumi = load_arm_profile("yumi")
    rig = Rig(profile=yumi, gating="human")
    rig.step()
    left = yumi.home[0] + [0.01, 0, 0]
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=left, arm_index=0, gripper=1))
    np.testing.assert_allclose(out.command.positions[0], left)
    np.testing.assert_allclose(out.command.positions[1], yumi.home[1])
    assert out.command.gripper.tolist()[0] == 1.0
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=left, arm_index=2))
    assert out.state.reason == Reason.INVALID_COMMAND


def _tick_with_message_threshold(score: float, threshold: float):
    """One tick of an arbiter without a configured threshold, given one uncertainty message."""
    arb = Arbiter(ArbiterConfig(threshold=None), FRANKA)
    arb.on_observation(ObservationIn(0.0, FRANKA.home))
    arb.on_action_chunk(ActionChunkIn(0.0, np.tile(np.r_[HOME, 0.0], (4, 1))))
    arb.on_uncertainty(UncertaintyIn(0.0, score, threshold=threshold))
    return arb.tick(0.05)


def test_threshold_from_uncertainty_message_when_not_configured():
    out = _tick_with_message_threshold(0.6, 0.5)
    assert out.state.threshold == 0.5 and out.state.source == Source.PAUSED


def test_zero_threshold_in_the_uncertainty_message_is_a_threshold_not_unset():
    out = _tick_with_message_threshold(0.01, 0.0)
    assert out.state.threshold == 0.0 and out.state.source == Source.PAUSED


def test_config_validation():
    with pytest.raises(ValueError, match="gating"):
        ArbiterConfig(gating="nobody")
    with pytest.raises(ValueError, match="release_ratio"):
        ArbiterConfig(release_ratio=0.0)


def test_split_action_layouts():
    parts = split_action(np.arange(10.0), 2)  # hitl_sim layout: x, y, z, yaw, gripper per arm
    assert parts.positions.tolist() == [[0, 1, 2], [5, 6, 7]]
    assert parts.yaw.tolist() == [3.0, 8.0] and parts.gripper.tolist() == [4.0, 9.0]
    parts = split_action(np.arange(8.0), 2)
    assert parts.yaw is None and parts.gripper.tolist() == [3.0, 7.0]
    parts = split_action(np.arange(3.0), 1)
    assert parts.gripper is None and parts.yaw is None
    with pytest.raises(ValueError):
        split_action(np.arange(7.0), 1)


def test_yaw_round_trip():
    yaw = np.array([0.3, -1.2])
    np.testing.assert_allclose(ToolFrame().sim_yaw(yaw_to_quat(yaw)), yaw)
    row = join_action(np.ones((2, 3)), yaw, np.array([0.1, 0.9]), 5)
    np.testing.assert_allclose(row, [1, 1, 1, 0.3, 0.1, 1, 1, 1, -1.2, 0.9])


def test_yaw_actions_command_orientation_and_human_action_in_same_layout():
    rig = Rig(gating="human")
    rig.chunk_actions = np.tile(np.r_[HOME, 0.05, 0.2], (4, 1))
    out = rig.step()
    np.testing.assert_allclose(ToolFrame().sim_yaw(out.command.orientations), [0.05])
    out = rig.step(
        teleop=teleop(
            take_over=True, mode=MODE_ABSOLUTE, position=HOME, orientation=yaw_to_quat([0.1])[0], gripper=0.7
        )
    )
    np.testing.assert_allclose(out.human_action, np.r_[HOME, 0.1, 0.7])


def test_watchdog_quiet_while_inputs_are_fresh():
    rig = Rig()
    rig.step(3)
    for k in range(1, 5):  # 50 Hz checks between two 10 Hz ticks
        assert rig.arb.watchdog(rig.t - DT + 0.02 * k) is None


def test_pause_during_human_intervention_ends_it_and_resume_returns_to_policy():
    rig = Rig()
    rig.score = 2.0
    rig.step()
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    rig.step(teleop=op)
    assert rig.out.state.source == Source.HUMAN
    out = rig.step(teleop=teleop(mode=MODE_ABSOLUTE, position=HOME, pause=True))
    assert out.state.source == Source.PAUSED and out.state.reason == Reason.PAUSE
    assert (
        out.state.operator_id == "" and out.state.intervention_elapsed == 0.0 and not out.state.help_requested
    )
    rig.score = 0.1
    rig.step(teleop=teleop(engaged=False))
    out = rig.step(teleop=teleop(engaged=False, pause=True))
    assert out.state.source == Source.POLICY and out.state.reason == Reason.RESUME


def test_reset_edge_wins_over_human_control_and_ignores_pause():
    rig = Rig(gating="human")
    rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME))
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME, reset=True))
    assert out.state.source == Source.RESET and out.reset_request and out.command.hold
    out = rig.step(teleop=teleop(take_over=True, pause=True, mode=MODE_ABSOLUTE, position=HOME))
    assert out.state.source == Source.RESET  # neither pause nor the held take-over leaves RESET
    rig.arb.on_reset_done(True, episode=4)
    out = rig.step(teleop=teleop(take_over=False, engaged=False))
    assert out.state.source == Source.POLICY and out.state.episode == 4


def test_deltas_while_disengaged_are_ignored():
    rig = Rig(gating="human")
    rig.step()
    rig.arb.on_teleop(
        teleop(engaged=False, mode=MODE_DELTA, delta_linear=np.array([0.01, 0, 0]), stamp=rig.t)
    )
    out = rig.step(teleop=teleop(take_over=True, mode=MODE_DELTA, delta_linear=np.zeros(3)))
    np.testing.assert_allclose(out.command.positions[0], HOME)


def _robot_gated_intervention(rig: Rig, score: float = 2.0) -> TeleopIn:
    rig.score = score
    assert rig.step().state.source == Source.PAUSED  # help requested
    op = teleop(mode=MODE_ABSOLUTE, position=HOME)
    assert rig.step(teleop=op).state.source == Source.HUMAN
    return op


def test_operator_hand_back_accepted_raises_the_help_level_until_the_score_drops():
    rig = Rig(gating="robot", rearm_ratio=1.5)
    op = _robot_gated_intervention(rig, score=2.0)
    # take-over pressed (ignored in robot gating) then released: the operator hands back at score 2.0
    assert rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME)).state.source == Source.HUMAN
    out = rig.step(teleop=teleop(take_over=False, engaged=False))
    assert out.state.source == Source.POLICY and out.state.reason == Reason.OPERATOR_RELEASED
    assert "next help request above 3.000" in out.state.reason_text
    assert rig.arb.help_level() == pytest.approx(3.0)
    rig.score = 2.9  # above the threshold (1.0) but below 1.5 x 2.0: no new request
    assert rig.step(3).state.source == Source.POLICY
    rig.score = 3.1  # worse than what the operator accepted: ask again
    assert rig.step().state.source == Source.PAUSED
    rig.step(teleop=op)
    rig.score = 0.1  # low again: the acceptance ends, the plain threshold is back
    rig.step(6, teleop=op)
    assert rig.arb.help_level() == pytest.approx(1.0)


def test_hand_back_without_rearm_asks_again_at_once_and_episode_start_clears_acceptance():
    rig = Rig(gating="both")  # rearm_ratio 0: the old behaviour
    _robot_gated_intervention(rig)
    rig.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME))  # now human-gated
    out = rig.step(teleop=teleop(take_over=False, engaged=False))
    assert out.state.source == Source.PAUSED and out.state.help_requested
    rig2 = Rig(gating="both", rearm_ratio=1.2)
    _robot_gated_intervention(rig2)
    rig2.step(teleop=teleop(take_over=True, mode=MODE_ABSOLUTE, position=HOME))
    assert rig2.step(teleop=teleop(take_over=False, engaged=False)).state.source == Source.POLICY
    assert rig2.arb.help_level() == pytest.approx(2.4)
    rig2.arb.on_episode_event(EpisodeEventIn(rig2.t, 5, EpisodeEventType.START))
    rig2.step()
    assert rig2.arb.help_level() == pytest.approx(1.0)


def test_rearm_ratio_validation():
    with pytest.raises(ValueError, match="rearm_ratio"):
        ArbiterConfig(rearm_ratio=0.5)


def test_a_second_operator_driving_in_human_control_is_named_in_the_state():
    """A fleet hands a robot from one operator to another without leaving human control: the state names
    whoever's fresh command drives (before, it kept naming the first, now silent, operator)."""
    rig = Rig(release_ratio=0.5, release_ticks=3, min_intervention_s=0.0)
    rig.step(2)
    rig.score = 2.0
    rig.step()
    a = teleop(mode=MODE_ABSOLUTE, position=HOME + np.array([0.02, 0.0, 0.0]), gripper=1.0, operator_id="op_a")
    assert rig.step(teleop=a).state.operator_id == "op_a"
    rig.step(2)  # op_a goes silent: held for the stale device
    assert rig.out.state.holding and rig.out.state.reason == Reason.STALE_DEVICE
    target = HOME + np.array([0.0, 0.03, 0.0])
    b = teleop(mode=MODE_ABSOLUTE, position=target, gripper=1.0, operator_id="op_b")
    out = rig.step(teleop=b)
    assert out.state.source == Source.HUMAN and not out.state.holding and out.state.operator_id == "op_b"
    assert out.command.positions[0][1] > HOME[1] + 0.01  # heading for op_b's target (step-limited)
    assert any("op_a -> op_b" in rec.text for rec in out.log)
