"""Explicit ensemble BC (IFL / ThriftyDAgger baseline) and the ensemble-variance estimator."""

from functools import lru_cache

import numpy as np
import pytest
import torch
from hitl_policy.checkpoint import CheckpointError
from hitl_policy.models.ebm import EBMPolicy
from hitl_policy.models.ensemble import EnsemblePolicy
from hitl_policy.registry import load_policy, make_estimator, make_policy
from hitl_policy.synthetic import make_fork_dataset, probe_states
from hitl_policy.uncertainty.base import UncertaintyEstimator
from hitl_policy.uncertainty.ensemble_variance import EnsembleVarianceEstimator

torch.set_num_threads(1)


@lru_cache(maxsize=2)
def fork_ensemble(head: str) -> EnsemblePolicy:
    p = EnsemblePolicy.create(2, 2, head=head, hidden=[32, 32], lr=3e-3)
    p.fit(make_fork_dataset(30, seed=0), steps=300, batch_size=128, progress=False)
    return p


def test_shapes_untrained():
    p = EnsemblePolicy.create(4, 3, horizon=5, n_action=2, n_obs=2, hidden=[8])
    assert (p.kind, p.n_members, p.horizon, p.n_action) == ("ensemble", 5, 5, 2)
    obs = np.random.default_rng(0).normal(size=(6, 2, 4)).astype(np.float32)
    members = p.member_predictions(obs)
    assert members.shape == (5, 6, 5, 3)
    chunk = p.predict_chunk(obs)
    assert chunk.shape == (6, 5, 3) and chunk.dtype == np.float32
    assert np.allclose(chunk, members.mean(0), atol=1e-6)
    # members differ (independent inits), so an untrained ensemble already disagrees
    assert members.std(0).mean() > 1e-3
    loss = p.training_loss(torch.as_tensor(obs), torch.as_tensor(chunk))
    assert loss.shape == (6,)


def test_log_prob_is_the_members_gaussian_in_raw_units():
    p = EnsemblePolicy.create(2, 2, n_members=1, hidden=[8])
    ds = make_fork_dataset(4)
    p.fit(ds, steps=5, batch_size=16, progress=False)
    obs, act = ds.obs[:7, None], ds.action[:7, None]
    lp = p.log_prob(obs, act)
    with torch.no_grad():
        mean, log_std = p._heads(p._norm_obs(obs))
    scale = torch.as_tensor(p.act_normalizer.scale)
    mu = p.act_normalizer.unnormalize(mean[0])
    ref = torch.distributions.Normal(mu, log_std[0].exp() * scale).log_prob(torch.as_tensor(ds.action[:7]))
    ref = ref.sum(-1)
    assert torch.allclose(lp, ref, atol=1e-4)
    assert lp.requires_grad  # MILE trains through it


def test_log_prob_prefers_data_actions_and_needs_gaussian_head():
    p = fork_ensemble("gaussian")
    ds = make_fork_dataset(4, seed=9)
    obs, act = ds.obs[:20, None], ds.action[:20, None]
    good = p.log_prob(obs, act)
    bad = p.log_prob(obs, act + np.array([0.3, -0.3], np.float32))
    assert torch.all(good > bad + 5)
    assert torch.allclose(p.log_prob(obs, act, reduce="mean"), good, atol=5.0)
    det = EnsemblePolicy.create(2, 2, head="deterministic", hidden=[8])
    with pytest.raises(ValueError, match="gaussian"):
        det.log_prob(obs, act)


@pytest.mark.parametrize("head", ["deterministic", "gaussian"])
def test_variance_orders_far_above_in_data(head):
    """Far-off states score orders of magnitude above in-data ones. The fork is NOT separated:
    every member averages the two branches (their next positions are only +-0.026 apart), so the
    members agree at the fork; measured fork/corridor are both ~1e-5 (see the report)."""
    est = EnsembleVarianceEstimator(fork_ensemble(head))
    probes = probe_states()
    s = {k: est.scores(v[:, None])[0] for k, v in probes.items()}
    in_data = np.concatenate([s["fork"], s["corridor"]])
    assert s["far"].min() > 100 * in_data.max(), s
    # the prediction at the fork is the branches' average (moves up, x stays near 0)
    fork_pred = fork_ensemble(head).predict_chunk(probes["fork"][1:2, None])[0, 0]
    assert abs(fork_pred[0]) < 0.02 and fork_pred[1] > probes["fork"][1, 1]


def test_estimator_interface_and_units():
    p = fork_ensemble("deterministic")
    est = make_estimator("ensemble_variance", p)
    assert isinstance(est, UncertaintyEstimator) and est.name == "ensemble_variance"
    obs = probe_states()["far"][:, None]
    res = est.estimate(obs, obs[:, 0])
    assert len(res) == 3 and res[0].points.shape == (5, 2)
    raw = EnsembleVarianceEstimator(p, normalized=False).scores(obs)[0]
    manual = p.member_predictions(obs).astype(np.float64).var(0).mean(axis=(-2, -1))
    assert np.allclose(raw, manual)
    assert not np.allclose(raw, [r.score for r in res])  # default is normalized units
    with pytest.raises(TypeError, match="ensemble"):
        EnsembleVarianceEstimator(EBMPolicy.create(2, 2, hidden=[8]))


def test_checkpoint_round_trip_and_wrong_kind(tmp_path):
    p = fork_ensemble("gaussian")
    path = p.save(tmp_path / "ens.pt")
    q = EnsemblePolicy.load(path)
    obs = probe_states()["corridor"][:, None]
    assert np.allclose(q.predict_chunk(obs), p.predict_chunk(obs))
    assert q.config == p.config and q.train_steps == p.train_steps
    assert isinstance(load_policy(path), EnsemblePolicy)
    assert isinstance(make_policy("ensemble", 2, 2, hidden=[4]), EnsemblePolicy)
    ebm = EBMPolicy.create(2, 2, hidden=[8]).save(tmp_path / "ebm.pt")
    with pytest.raises(CheckpointError, match="expected 'ensemble'"):
        EnsemblePolicy.load(ebm)
    with pytest.raises(ValueError, match="head"):
        EnsemblePolicy.create(2, 2, head="mdn")
