"""sim_loop hands over to the simulated operator exactly when the estimator's score passes the threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_bringup.sim_loop import GateConfig, deploy
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT
from hitl_policy.uncertainty.base import UncertaintyResult
from hitl_sim.arms import load_arm_profile
from hitl_sim.core import Layout, VecEnv

GOAL = np.array([0.30, 0.10, 0.10])
WRONG = GOAL + np.array([0.0, 0.1, 0.0])


class ReachTask:
    """Move the end effector to a fixed goal (success within 1 cm)."""

    name = "reach"
    variants = ("train",)
    max_steps = 40
    n_modes = 1
    mode_field = None
    obs_layout = Layout([("goal", 3)])
    state_layout = Layout([("goal", 3)])

    def sample(self, rng, variant):
        return GOAL.copy()

    def initial_ee(self, ts, arm):
        return np.array([[0.25, -0.05, 0.12, 0.0, 0.0]])

    def physics(self, env):
        pass

    def evaluate(self, env):
        d = np.linalg.norm(env.ee_pos[:, 0] - env.ts, axis=1)
        return d < 0.01, np.zeros(env.num_envs, bool)

    def observe(self, env):
        return env.ts.copy()


class WrongPolicy:
    """Heads 10 cm beside the goal: never succeeds on its own."""

    kind, n_obs, horizon, n_action, obs_dim, act_dim = "stub", 2, 4, 2, 8, 5

    def predict_chunk(self, obs_hist):
        target = np.concatenate([WRONG, [0.0, 0.0]])
        return np.repeat(np.repeat(target[None, None], self.horizon, 1), len(obs_hist), 0)


class Expert:
    def act(self, state, obs):
        out = obs[:, :5].copy()
        out[:, :3] = obs[:, 5:8]
        return out


class ConstEstimator:
    name = "const"

    def __init__(self, score):
        self.score = score

    def estimate(self, obs_hist, current):
        assert obs_hist.shape[1:] == (2, 8) and current.shape[1] == 5
        return [UncertaintyResult(self.score, self.name) for _ in range(len(obs_hist))]


@pytest.fixture
def env():
    return VecEnv(ReachTask(), load_arm_profile("widowx"), num_envs=3, seed=0)


def test_no_handover_when_score_below_threshold(env):
    res = deploy(env, WrongPolicy(), 4, ConstEstimator(0.0), GateConfig(threshold=0.5), Expert(), seed=1)
    s = res.summary()
    assert s["episodes"] == 4 and s["human_steps"] == 0 and s["help_requests"] == 0
    assert s["success_rate"] == 0.0
    assert (res.dataset.source == SOURCE_ROBOT).all()
    assert res.dataset.n_episodes == 4 and res.dataset.n_steps == 4 * ReachTask.max_steps


def test_handover_when_score_above_threshold(env):
    gate = GateConfig(threshold=0.5, reaction_ticks=3)
    res = deploy(env, WrongPolicy(), 5, ConstEstimator(1.0), gate, Expert(), seed=1)
    s = res.summary()
    assert s["success_rate"] == 1.0
    assert res.scores is not None and len(res.scores) == res.dataset.n_steps and np.all(res.scores == 1.0)
    assert s["help_requests"] == 1.0  # the score never drops: one request, the human finishes the job
    ds = res.dataset
    for sl in ds.episode_slices():
        src = ds.source[sl]
        # the first score is high: the arbiter holds and asks at once; the operator sees the request on
        # the next tick and takes control after its reaction delay, then keeps it (the score stays high)
        waited = 1 + gate.reaction_ticks
        assert (src[:waited] == SOURCE_PAUSED).all()
        assert (src[waited:] == SOURCE_HUMAN).all()
    # human steps drive toward the goal; the robot's proposal is recorded alongside
    human = ds.source == SOURCE_HUMAN
    assert np.allclose(ds.robot_action[human][:, :3], WRONG, atol=1e-6)
    assert np.allclose(ds.action[human][:, :3], GOAL, atol=1e-6)
    per_episode = [int((ds.source[sl] == SOURCE_HUMAN).sum()) for sl in ds.episode_slices()]
    assert sorted(m.human_steps for m in res.episodes) == sorted(per_episode)


def test_autonomous_without_estimator(env):
    res = deploy(env, WrongPolicy(), 2, None, None, None, seed=0)
    assert res.summary()["human_steps"] == 0 and len(res.episodes) == 2 and res.scores is None


def test_gated_needs_expert(env):
    with pytest.raises(ValueError, match="expert"):
        deploy(env, WrongPolicy(), 1, ConstEstimator(1.0), GateConfig(threshold=0.5), None)


class NearStartEstimator:
    """High score only near the start pose (the first few centimetres)."""

    name = "near_start"

    def estimate(self, obs_hist, current):
        y = current[:, 1]
        return [UncertaintyResult(1.0 if yi < -0.03 else 0.0, self.name) for yi in y]


def test_hands_back_when_score_drops(env):
    gate = GateConfig(threshold=0.5, reaction_ticks=1, release_ticks=3)
    res = deploy(env, WrongPolicy(), 2, NearStartEstimator(), gate, Expert(), seed=0)
    for sl in res.dataset.episode_slices():
        src = res.dataset.source[sl]
        first_human = int(np.argmax(src == SOURCE_HUMAN))
        assert src[first_human] == SOURCE_HUMAN
        back = np.flatnonzero(src[first_human:] == SOURCE_ROBOT)
        assert len(back), "control never came back to the policy"
        # the human held control for at least release_ticks ticks and one executed chunk
        assert back[0] >= max(gate.release_ticks, WrongPolicy.n_action)
        assert (src[first_human + back[0]:] == SOURCE_ROBOT).all()


def test_expert_deviation_gate_scores_in_tolerances():
    from hitl_bringup.sim_loop import ExpertDeviationGate

    gate = ExpertDeviationGate(Expert(), n_arms=1, pos_tol=0.005, yaw_tol=0.15)
    obs = np.zeros((3, 2, 8))
    obs[:, -1, 5:8] = GOAL
    cur = np.zeros((3, 5))
    good = np.array([[*GOAL, 0.0, 0.0]] * 3)
    prop = good.copy()
    prop[1, 0] += 0.01   # 1 cm off: 2 tolerances
    prop[2, 4] = 1.0     # closes the gripper where the expert keeps it open
    scores = [r.score for r in gate.estimate(obs, cur, proposed=prop, state=np.zeros((3, 3)))]
    assert scores[0] == pytest.approx(0.0) and scores[1] == pytest.approx(2.0) and scores[2] == 2.0
    with pytest.raises(ValueError, match="proposed"):
        gate.estimate(obs, cur)
