"""Simulated operator: reaction delay, robot-gated answer and release, human-gated rules, budget;
and a closed loop with the Arbiter (no ROS) on a toy point robot."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_sim.arms import load_arm_profile
from hitl_teleop.arbiter import (
    MODE_ABSOLUTE,
    ActionChunkIn,
    Arbiter,
    ArbiterConfig,
    ObservationIn,
    Reason,
    Source,
    TeleopIn,
    UncertaintyIn,
    split_action,
    yaw_to_quat,
)
from hitl_teleop.sim_operator import ControlView, SimOperatorConfig, SimulatedOperator

P, H, PAUSED = Source.POLICY, Source.HUMAN, Source.PAUSED
GOAL = np.array([0.6, 0.1, 0.3])


class GoalExpert:
    """Fake scripted expert: state = [goal xyz, ee x y z yaw gripper]; goes straight to the goal."""

    def __init__(self):
        self.calls = 0

    def act(self, state, obs=None):
        self.calls += 1
        state = np.atleast_2d(state)
        return np.concatenate([state[:, :3], np.zeros((len(state), 1)), np.ones((len(state), 1))], axis=1)


def operator_teleop(t: float, operator_id: str, o_out, take_over: bool = False) -> TeleopIn:
    """The TeleopIn an operator's step output becomes (absolute targets; empty when it sends no action)."""
    parts = split_action(o_out.action, 1) if o_out.action is not None else None
    return TeleopIn(
        t,
        operator_id,
        engaged=o_out.engaged,
        take_over=take_over,
        mode=MODE_ABSOLUTE,
        position=parts.positions[0] if parts else None,
        orientation=yaw_to_quat(parts.yaw)[0] if parts else None,
        gripper=float(parts.gripper[0]) if parts else 0.0,
    )


def make_state(ee, goal=GOAL):
    return np.r_[goal, ee, 0.0, 0.0]


def op(**kw) -> SimulatedOperator:
    kw.setdefault("reaction_delay_ticks", 2)
    return SimulatedOperator("toy", SimOperatorConfig(**kw), expert=GoalExpert())


def test_answers_help_after_reaction_delay_and_releases_when_policy_returns():
    o = op(reaction_delay_ticks=2)
    s = make_state([0.4, 0.0, 0.3])
    assert not o.step(ControlView(P), s).engaged
    help_ = ControlView(PAUSED, help_requested=True)
    assert not o.step(help_, s).engaged  # tick 1 of the delay
    assert not o.step(help_, s).engaged  # tick 2
    out = o.step(help_, s)
    assert out.engaged and not out.take_over
    np.testing.assert_allclose(out.action, np.r_[GOAL, 0.0, 1.0])
    out = o.step(ControlView(H, help_requested=True), s)
    assert out.engaged and o.human_steps == 1
    out = o.step(ControlView(P), s)  # the arbiter handed back to the policy
    assert not out.engaged and out.action is None and o.phase.value == "idle"


def test_zero_delay_answers_immediately():
    o = op(reaction_delay_ticks=0)
    assert o.step(ControlView(PAUSED, help_requested=True), make_state([0.4, 0, 0.3])).engaged


def test_withdrawn_request_cancels_reaction():
    o = op(reaction_delay_ticks=3)
    s = make_state([0.4, 0, 0.3])
    o.step(ControlView(PAUSED, help_requested=True), s)
    assert o.step(ControlView(P), s).phase == "idle"


def test_budget_limits_human_steps_per_episode():
    o = op(reaction_delay_ticks=0, max_human_steps=3)
    s = make_state([0.4, 0, 0.3])
    o.step(ControlView(PAUSED, help_requested=True, episode=1), s)
    engaged = [o.step(ControlView(H, help_requested=True, episode=1), s).engaged for _ in range(6)]
    assert engaged == [True, True, False, False, False, False]
    assert o.human_steps == 3
    assert not o.step(ControlView(PAUSED, help_requested=True, episode=1), s).engaged  # budget spent
    o.step(ControlView(PAUSED, help_requested=True, episode=2), s)  # new episode: budget refilled
    assert o.step(ControlView(PAUSED, help_requested=True, episode=2), s).engaged


def test_human_gated_random_rule_takes_over_and_hands_back():
    o = op(
        human_gated=True, takeover_rule="random", takeover_prob=1.0, reaction_delay_ticks=1, takeover_ticks=2
    )
    s = make_state([0.4, 0, 0.3])
    assert not o.step(ControlView(P), s).engaged  # decided; reacting
    out = o.step(ControlView(P), s)
    assert out.engaged and out.take_over
    assert o.step(ControlView(H), s).take_over
    assert not o.step(ControlView(H), s).take_over  # takeover_ticks (2) in control: hands back


def test_human_gated_never_with_probability_zero():
    o = op(human_gated=True, takeover_rule="random", takeover_prob=0.0, reaction_delay_ticks=0)
    assert not any(o.step(ControlView(P), make_state([0.4, 0, 0.3])).engaged for _ in range(50))


def test_wrong_way_rule_fires_only_when_robot_moves_away_from_expert_goal():
    o = op(human_gated=True, takeover_rule="wrong_way", wrong_way_ticks=3, reaction_delay_ticks=0)
    x = 0.4
    for _ in range(10):  # moving toward the goal (x increases toward 0.6): no take-over
        x += 0.01
        assert not o.step(ControlView(P), make_state([x, 0.1, 0.3])).engaged
    outs = []
    for _ in range(4):  # moving away
        x -= 0.01
        outs.append(o.step(ControlView(P), make_state([x, 0.1, 0.3])).take_over)
    assert outs == [False, False, True, True]


def test_custom_rule_callable():
    o = SimulatedOperator(
        "toy",
        SimOperatorConfig(human_gated=True, reaction_delay_ticks=0),
        expert=GoalExpert(),
        takeover_rule=lambda state: state[3] < 0.35,
    )
    assert not o.step(ControlView(P), make_state([0.4, 0, 0.3])).engaged
    assert o.step(ControlView(P), make_state([0.3, 0, 0.3])).take_over


def test_bad_config():
    with pytest.raises(ValueError):
        SimOperatorConfig(takeover_rule="telepathy")
    with pytest.raises(ValueError):
        SimOperatorConfig(takeover_prob=2.0)


def test_closed_loop_with_arbiter_robot_gated():
    """Policy drives toward a wrong point and is uncertain in a region; the operator takes it to the goal."""
    profile = load_arm_profile("franka")
    arb = Arbiter(ArbiterConfig(threshold=1.0, release_ticks=2, release_ratio=0.5, gating="robot"), profile)
    o = op(reaction_delay_ticks=3, operator_id="sim_7")
    ee = profile.home[0].copy()
    wrong = np.array([0.3, -0.3, 0.3])
    t, log = 0.0, []
    out = None
    for _ in range(80):
        uncertain = np.linalg.norm(ee - GOAL) > 0.05 and out is not None and len(log) > 5
        arb.on_observation(ObservationIn(t, ee[None].copy(), episode=1))
        target = wrong if np.linalg.norm(ee - GOAL) > 0.05 else GOAL  # the policy is fine near the goal
        arb.on_action_chunk(ActionChunkIn(t, np.tile(np.r_[target, 0.0, 0.0], (8, 1)), n_execute=4, dt=0.1))
        arb.on_uncertainty(UncertaintyIn(t, 3.0 if uncertain else 0.0))
        view = ControlView(arb.source, out.state.help_requested if out else False, 1)
        o_out = o.step(view, make_state(ee))
        if o_out.action is not None or not o_out.engaged:
            arb.on_teleop(operator_teleop(t, "sim_7", o_out, take_over=o_out.take_over))
        out = arb.tick(t)
        log.append((out.state.source, out.state.reason, o_out.engaged))
        if not out.command.hold:
            ee = out.command.positions[0].copy()
        t += 0.1
    sources = [s for s, _, _ in log]
    first_pause = sources.index(PAUSED)
    first_human = sources.index(H)
    assert first_human - first_pause == 4  # 3 ticks of reaction delay, engaged on the 4th, applied that tick
    assert np.linalg.norm(ee - GOAL) < 0.06  # the expert brought it to the goal ...
    assert sources.count(PAUSED) == 4 and log[-1][:2] == (P, Reason.UNCERTAINTY_LOW)  # one request, then back
    assert o.total_human_steps > 0 and not log[-1][2]  # ... and the operator released after the hand-back


def test_real_expert_rescues_a_stuck_policy_in_hitl_sim():
    """In-process loop (no DDS): hitl_sim lift + Arbiter + SimulatedOperator with the scripted expert."""
    hitl_sim = pytest.importorskip("hitl_sim")
    if not hasattr(hitl_sim, "make_env"):
        pytest.skip("hitl_sim.make_env not available yet")
    from hitl_teleop.arbiter import join_action
    from hitl_teleop.tool_frame import ToolFrame

    env = hitl_sim.make_env("lift", arm="franka", num_envs=1, seed=3)
    profile = env.arm
    arb = Arbiter(ArbiterConfig(threshold=1.0, gating="robot", robot_id="r0"), profile)
    oper = SimulatedOperator("lift", SimOperatorConfig(reaction_delay_ticks=2, operator_id="sim_0"))
    obs = env.reset()
    out, t = None, 0.0
    for _ in range(env.max_steps):
        current = env.current_action()[0]
        ee = current.reshape(1, 5)
        arb.on_observation(
            ObservationIn(t, ee[:, :3], ee[:, 4], yaw_to_quat(ee[:, 3]), int(env.episode[0]), int(env.t[0]))
        )
        arb.on_action_chunk(
            ActionChunkIn(t, np.tile(current, (8, 1)), n_execute=4, dt=env.dt)
        )  # stuck policy
        arb.on_uncertainty(UncertaintyIn(t, 3.0))
        view = ControlView(arb.source, out.state.help_requested if out else False, int(env.episode[0]))
        o = oper.step(view, env.get_state()[0], obs[0])
        arb.on_teleop(operator_teleop(t, "sim_0", o))
        out = arb.tick(t)
        c = out.command
        action = current if c.hold else join_action(c.positions, ToolFrame().sim_yaw(c.orientations), c.gripper, 5)
        obs, info = env.step(action[None])
        t += env.dt
        if info["done"][0]:
            break
    assert info["success"][0], "the operator did not finish the task"
    assert out.state.source == Source.HUMAN and out.state.operator_id == "sim_0"
    assert out.human_steps > 20
    assert out.human_steps - oper.total_human_steps == 1  # the operator sees the control state one tick later


class MilestoneExpert(GoalExpert):
    """GoalExpert whose single milestone is 'the end effector is within 1 cm of the goal'."""

    def milestones(self, state):
        state = np.atleast_2d(state)
        return (np.linalg.norm(state[:, 3:6] - state[:, :3], axis=1) < 0.01).astype(int)


def test_milestone_handback_presses_and_releases_take_over_once_the_subgoal_is_reached():
    o = SimulatedOperator("toy", SimOperatorConfig(reaction_delay_ticks=0, handback="milestone"),
                          expert=MilestoneExpert())
    far, at_goal = make_state([0.4, 0.0, 0.3]), make_state(GOAL)
    help_ = ControlView(PAUSED, help_requested=True)
    out = o.step(help_, far)
    assert out.engaged and not out.take_over
    out = o.step(ControlView(H, help_requested=True), far)
    assert out.engaged and not out.take_over  # milestone not reached yet
    out = o.step(ControlView(H, help_requested=True), at_goal)
    assert out.engaged and out.take_over and out.phase == "handing_back"  # press ...
    out = o.step(ControlView(H, help_requested=True), at_goal)
    assert not out.engaged and not out.take_over and out.phase == "idle"  # ... and release


def test_score_handback_keeps_driving_past_the_milestone():
    o = SimulatedOperator("toy", SimOperatorConfig(reaction_delay_ticks=0), expert=MilestoneExpert())
    o.step(ControlView(PAUSED, help_requested=True), make_state([0.4, 0.0, 0.3]))
    out = o.step(ControlView(H, help_requested=True), make_state(GOAL))
    assert out.engaged and not out.take_over


def test_milestone_handback_with_the_arbiter_returns_control_to_the_policy():
    profile = load_arm_profile("franka")
    arb = Arbiter(ArbiterConfig(threshold=1.0, gating="robot", rearm_ratio=1.5), profile)
    o = SimulatedOperator("toy", SimOperatorConfig(reaction_delay_ticks=0, handback="milestone"),
                          expert=MilestoneExpert())
    view, t = ControlView(P), 0.0
    sources = []
    for k in range(12):
        ee = GOAL if k >= 5 else np.array([0.4, 0.0, 0.3])
        arb.on_observation(ObservationIn(t, ee[None].copy(), np.zeros(1)))
        arb.on_action_chunk(ActionChunkIn(t, np.tile(np.r_[ee, 0.0], (8, 1)), n_execute=4, dt=0.1))
        arb.on_uncertainty(UncertaintyIn(t, 2.0))  # stays high: only the hand-back can end the help
        out = o.step(view, make_state(ee))
        arb.on_teleop(TeleopIn(t, operator_id="op", engaged=out.engaged, take_over=out.take_over,
                               mode=MODE_ABSOLUTE, position=GOAL.copy() if out.engaged else None,
                               device="sim"))
        res = arb.tick(t)
        view = ControlView(int(res.state.source), bool(res.state.help_requested))
        sources.append(res.state.source)
        t += 0.1
    assert H in sources
    assert sources[-1] == P and res.state.reason == Reason.OPERATOR_RELEASED
