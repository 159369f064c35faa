"""A deployment's draws depend on its own seed, not on what ran before it in the process (the evaluation runs
many deployments in a row in one worker): hitl_policy/reseed.py."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_bringup.sim_backend import make_env, make_expert
from hitl_bringup.sim_loop import GateConfig, deploy
from hitl_policy.registry import make_estimator, make_policy

from hitl_sim import collect_demos


@pytest.fixture(scope="module")
def policy():
    demos = collect_demos("lift", "franka", 3, "train", seed=0, progress=False, backend="kinematic")
    pol = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=0, n_obs=2, horizon=4, n_action=2)
    pol.fit(demos, 20, 32, progress=False)
    return pol


def _run(policy, estimator, seed: int):
    with make_env("lift", "franka", 2, "train", 0, "kinematic") as env:
        expert = make_expert("lift", sim="kinematic")
        res = deploy(env, policy, 2, estimator, GateConfig(threshold=float("inf")), expert, seed=seed)
    return res.dataset.robot_action, res.scores


def test_the_same_seed_draws_the_same_after_other_deployments(policy):
    est = make_estimator("denoising_vector_paper", policy, seed=0, n_points=8)
    actions, scores = _run(policy, est, seed=3)
    _run(policy, est, seed=4)  # advances every generator
    policy.predict_chunk(np.zeros((5, policy.n_obs, policy.obs_dim), np.float32))
    again_actions, again_scores = _run(policy, est, seed=3)
    np.testing.assert_array_equal(again_actions, actions)
    np.testing.assert_array_equal(again_scores, scores)


def test_another_seed_draws_otherwise(policy):
    est = make_estimator("denoising_vector_paper", policy, seed=0, n_points=8)
    a, s = _run(policy, est, seed=3)
    b, t = _run(policy, est, seed=5)
    n = min(len(a), len(b))
    assert not np.array_equal(a[:n], b[:n]) and not np.array_equal(s[:n], t[:n])
