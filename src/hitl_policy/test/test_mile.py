"""MILE: the joint loss decreases and the probit intervention model predicts interventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hitl_core.data import SOURCE_HUMAN, SOURCE_ROBOT, EpisodeDataset
from hitl_policy.learning.finetune import aggregate
from hitl_policy.learning.gaussian_policy import GaussianMLPPolicy
from hitl_policy.learning.mile import (
    MILE,
    MileConfig,
    discrete_intervention_prob,
    discrete_mile_loss,
)
from sklearn.metrics import roc_auc_score

torch.set_num_threads(1)


def far_from_expert_task(n: int, seed: int):
    """The robot is wrong (0.6 off) where s0 > 0; a simulated human intervenes exactly there."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    expert = np.stack([0.5 * s[:, 0], -0.5 * s[:, 1]], 1)
    robot = expert + (s[:, :1] > 0) * np.array([[0.6, 0.0]])
    nu = np.abs(robot - expert).sum(1) > 0.3
    act = np.where(nu[:, None], expert, robot)
    ds = EpisodeDataset(obs=s, action=act, current=act, episode_ends=np.arange(20, n + 1, 20),
                        source=np.where(nu, SOURCE_HUMAN, SOURCE_ROBOT), robot_action=robot)
    return ds, s, expert, robot, nu


@pytest.fixture(scope="module")
def trained():
    ds, s, _, robot, _ = far_from_expert_task(400, 0)
    weak = GaussianMLPPolicy.create(2, 2, hidden=(64, 64), seed=0)
    weak.fit(EpisodeDataset(obs=s, action=robot, current=robot, episode_ends=ds.episode_ends), 200, 64,
             progress=False)
    data, roles = aggregate(None, [ds])
    mile = MILE(weak, data, roles, MileConfig(mental_warmup_steps=100), seed=0)
    stats = mile.fit(150, 64, progress=False)
    return mile, stats


def test_joint_loss_decreases(trained):
    _, stats = trained
    assert stats["loss_last"] < stats["loss_first"]
    assert stats["bce_last"] < stats["bce_first"]


def test_probit_model_predicts_interventions_above_chance(trained):
    mile, _ = trained
    _, s, expert, _, nu = far_from_expert_task(300, 1)
    p = mile.intervention_prob(s[:, None])
    assert roc_auc_score(nu, p) > 0.8
    assert p[nu].mean() > p[~nu].mean() + 0.3
    # and the policy (the mental model is discarded) learnt the human's actions where it intervened
    err = np.abs(mile.policy.predict_chunk(s[nu][:, None])[:, 0] - expert[nu]).sum(1).mean()
    assert err < 0.2


def test_needs_likelihoods():
    ds, *_ = far_from_expert_task(40, 0)
    data, roles = aggregate(None, [ds])

    class NoLik:
        kind, n_obs, horizon, obs_dim, act_dim = "diffusion", 1, 1, 2, 2

    with pytest.raises(TypeError, match="likelihood"):
        MILE(NoLik(), data, roles)


def test_discrete_variant_learns_when_and_what():
    """Discrete actions {0,1,2}: the robot always picks 0; the human intervenes with 2 where s > 0."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    s = torch.as_tensor(rng.uniform(-1, 1, (512, 1)), dtype=torch.float32)
    nu = (s[:, 0] > 0).float()
    a_h = torch.where(nu > 0, 2, 0)
    policy = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    mental = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    c = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam([*policy.parameters(), *mental.parameters(), c], lr=1e-2)
    losses = []
    for _ in range(300):
        loss = discrete_mile_loss(policy(s), mental(s), nu, a_h, c, lam=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    with torch.no_grad():
        p = discrete_intervention_prob(policy(s), mental(s), c).numpy()
        act = policy(s).argmax(-1).numpy()
    assert roc_auc_score(nu.numpy(), p) > 0.8
    assert (act[nu.numpy() > 0] == 2).mean() > 0.9
    ce = discrete_mile_loss(policy(s), mental(s), nu, a_h, c, form="ce")
    assert torch.isfinite(ce)


def test_mile_trains_an_ensemble_gaussian_policy():
    from hitl_policy.models.ensemble import EnsemblePolicy

    ds, s, _, robot, _ = far_from_expert_task(200, 0)
    ens = EnsemblePolicy.create(2, 2, n_members=2, hidden=[32, 32], seed=0)
    ens.fit(EpisodeDataset(obs=s, action=robot, current=robot, episode_ends=ds.episode_ends), 100, 64,
            progress=False)
    data, roles = aggregate(None, [ds])
    mile = MILE(ens, data, roles, MileConfig(mental_warmup_steps=50, n_samples=4), seed=0)
    stats = mile.fit(80, 64, progress=False)
    assert np.isfinite(stats["loss_last"]) and stats["bce_last"] < stats["bce_first"]
