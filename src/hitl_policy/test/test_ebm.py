"""Implicit EBM policy (IBC as IIFL uses it): shapes, Langevin sampling, training, checkpoints, the fork."""

import itertools
from functools import lru_cache

import numpy as np
import pytest
import torch
from hitl_core.data import EpisodeDataset
from hitl_policy.checkpoint import CheckpointError
from hitl_policy.models.ebm import DEFAULT_CONFIG, EBMPolicy, langevin, step_schedule
from hitl_policy.models.ensemble import EnsemblePolicy
from hitl_policy.registry import load_policy, make_policy
from hitl_policy.synthetic import make_fork_dataset, probe_states

torch.set_num_threads(1)

TINY = {"hidden": [16, 16], "langevin_iterations": 5, "inference_counter_examples": 16,
        "train_counter_examples": 4}

# The fork model for the (slow) behaviour tests. Uniform counter-examples and no gradient penalty:
# Langevin counter-examples (IIFL's default) cost ~10x more per step on CPU; measured in the report.
FORK_CONFIG = {"hidden": [64, 64], "counter_examples": "uniform", "train_counter_examples": 32,
               "grad_penalty": False, "lr": 3e-3, "langevin_iterations": 30, "inference_counter_examples": 64}


AHEAD = 8


def fork_dataset_ahead(k: int = AHEAD, n_episodes: int = 40) -> EpisodeDataset:
    """make_fork_dataset with the action replaced by the position k steps ahead (clamped at the
    episode end). One step ahead the branches are only +-0.026 apart at the fork, inside the
    demos' jitter for a small EBM; 8 ahead they are +-0.2 apart (docs/uncertainty.md, Evidence 1, found
    the same for the diffusion estimator)."""
    ds = make_fork_dataset(n_episodes, seed=0)
    action = np.empty_like(ds.action)
    for sl in ds.episode_slices():
        pos = np.concatenate([ds.obs[sl], ds.action[sl][-1:]])
        t = np.arange(sl.stop - sl.start)
        action[sl] = pos[np.minimum(t + k, len(pos) - 1)]
    return EpisodeDataset(obs=ds.obs, action=action, current=ds.current, episode_ends=ds.episode_ends,
                          expert_id=ds.expert_id, meta=ds.meta)


@lru_cache(maxsize=1)
def fork_ebm() -> EBMPolicy:
    """Trained once per session (shared with test_jeffreys)."""
    torch.manual_seed(0)
    policy = EBMPolicy.create(2, 2, **FORK_CONFIG)
    policy.fit(fork_dataset_ahead(), steps=600, batch_size=128, progress=False)
    return policy


def test_defaults_are_iifl_table3():
    c = DEFAULT_CONFIG
    assert (c["lr"], c["train_counter_examples"], c["langevin_iterations"]) == (5e-4, 8, 100)
    assert (c["step_init"], c["step_final"], c["step_power"]) == (0.1, 1e-5, 2.0)
    assert (c["inference_counter_examples"], c["n_models"], c["lr_decay"]) == (512, 2, 0.99)
    sched = step_schedule(100, 0.1, 1e-5, 2.0)
    assert sched[0] == pytest.approx(0.1) and sched[-1] == pytest.approx(1e-5)
    assert all(a > b for a, b in itertools.pairwise(sched))


def test_shapes_and_bounds_untrained():
    p = EBMPolicy.create(3, 2, horizon=4, n_action=2, n_obs=2, **TINY)
    assert (p.kind, p.n_obs, p.horizon, p.n_action, p.obs_dim, p.act_dim) == ("ebm", 2, 4, 2, 3, 2)
    obs = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    chunk = p.predict_chunk(obs)
    assert chunk.shape == (5, 4, 2) and chunk.dtype == np.float32 and np.isfinite(chunk).all()
    s = p.langevin_sample(obs, 7, 1)
    assert s.shape == (5, 7, 4, 2)
    both = p.langevin_sample(obs, 7, (0, 1), normalized=True)
    assert both.shape == (2, 5, 7, 4, 2) and both.abs().max() <= 1.0 + DEFAULT_CONFIG["action_margin"] + 1e-6
    e = p.energies(obs, s, 0)
    assert e.shape == (5, 7)
    e2 = p.energies(obs, both, (1, 0), normalized=True)
    assert e2.shape == (2, 5, 7)
    # model_index lists pick the right model: model 1 on its own slice equals the single call
    assert torch.allclose(e2[0], p.energies(obs, both[0], 1, normalized=True), atol=1e-5)


def test_bad_inputs_get_clear_errors():
    p = EBMPolicy.create(3, 2, **TINY)
    with pytest.raises(ValueError, match="obs_hist"):
        p.predict_chunk(np.zeros((4, 1, 5)))
    with pytest.raises(ValueError, match="NaN"):
        p.predict_chunk(np.full((1, 1, 3), np.nan))
    with pytest.raises(ValueError, match="unknown EBM config"):
        EBMPolicy.create(3, 2, hiden=[3])
    with pytest.raises(ValueError, match="model_index"):
        p.energies(np.zeros((1, 1, 3)), np.zeros((1, 2, 2)), 5)
    with pytest.raises(ValueError, match="dataset"):
        p.fit(make_fork_dataset(2), steps=1, progress=False)


def test_mala_samples_a_known_density():
    """Metropolis-adjusted Langevin on a 2-D Gaussian energy recovers its mean and variance."""
    mu, sigma = torch.tensor([0.3, -0.2]), 0.15
    gen = torch.Generator().manual_seed(0)
    y0 = torch.rand((4000, 2), generator=gen) * 2 - 1
    lo, hi = torch.full((2,), -1.0), torch.full((2,), 1.0)
    y = langevin(lambda a: ((a - mu) ** 2).sum(-1) / (2 * sigma**2), y0, lo, hi,
                 step_schedule(30, 0.05, 1e-3, 2.0), 1.0, 0.1, metropolis=True, generator=gen)
    assert torch.allclose(y.mean(0), mu, atol=0.01)
    assert y.var(0).sqrt().numpy() == pytest.approx([sigma, sigma], rel=0.08)


def test_training_loss_and_fit_with_langevin_counter_examples():
    ds = make_fork_dataset(6)
    p = EBMPolicy.create(2, 2, **TINY)
    stats = p.fit(ds, steps=25, batch_size=32, progress=False)  # Langevin negatives + gradient penalty
    assert stats["steps"] == 25 and np.isfinite(stats["loss"]) and p.train_steps == 25
    assert p.normalizers_fitted and np.allclose(p.act_normalizer.unnormalize(np.ones(2)), ds.action.max(0))
    obs, act = torch.as_tensor(ds.obs[:10, None]), torch.as_tensor(ds.action[:10, None])
    loss = p.training_loss(obs, act)
    assert loss.shape == (10,) and torch.isfinite(loss).all()
    loss.mean().backward()
    assert all(w.grad is not None for w in p.net.weights)


def test_fit_lowers_the_infonce_loss_and_honours_weights():
    ds = make_fork_dataset(6)
    p = EBMPolicy.create(2, 2, **{**TINY, "counter_examples": "uniform", "train_counter_examples": 16,
                                  "grad_penalty": False, "lr": 3e-3})
    stats = p.fit(ds, steps=150, batch_size=64, progress=False)
    assert stats["loss"] < 0.6 * stats["first_loss"]  # chance level is log(17) = 2.83
    with pytest.raises(ValueError, match="sample_weights"):
        p.fit(ds, steps=1, progress=False, sample_weights=np.ones(3))
    w = np.zeros(ds.n_steps)
    w[:5] = 1.0
    p.fit(ds, steps=2, batch_size=8, progress=False, sample_weights=w)  # a zero-weight bootstrap falls back


def test_checkpoint_round_trip_and_wrong_kind(tmp_path):
    p = EBMPolicy.create(2, 2, **TINY)
    p.fit(make_fork_dataset(4), steps=3, batch_size=16, progress=False)
    path = p.save(tmp_path / "ebm.pt")
    q = EBMPolicy.load(path)
    assert q.config == p.config and q.train_steps == 3 and q.normalizers_fitted
    assert np.allclose(q.act_normalizer.offset, p.act_normalizer.offset)
    obs = np.zeros((3, 1, 2), np.float32)
    acts = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(np.float32)
    assert torch.allclose(q.energies(obs, acts, 1), p.energies(obs, acts, 1))
    assert isinstance(load_policy(path), EBMPolicy)
    assert isinstance(make_policy("ebm", 2, 2, **TINY), EBMPolicy)
    ens = EnsemblePolicy.create(2, 2, hidden=[8]).save(tmp_path / "ens.pt")
    with pytest.raises(CheckpointError, match="expected 'ebm'"):
        EBMPolicy.load(ens)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        EBMPolicy.load(bad)
    with pytest.raises(CheckpointError, match="not found"):
        EBMPolicy.load(tmp_path / "missing.pt")


@pytest.mark.slow
def test_fork_samples_land_in_both_branches():
    """At the fork the model's density has mass in both branches (8 steps ahead: x = -0.2 or +0.2);
    in the corridor it is one narrow mode. Both at temperature 1 (what Jeffreys samples) and at the
    policy's own noise (0.33)."""
    p = fork_ebm()
    fork = probe_states()["fork"][1:2, None]  # (0, FORK_Y)
    corridor = probe_states()["corridor"][1:2, None]
    for noise in (1.0, 0.33):
        kw = {"iterations": 30, "step_init": 0.05, "step_final": 1e-3, "noise_scale": noise,
              "metropolis": True, "delta_clip": 0.1}
        for model in (0, 1):
            gen = torch.Generator().manual_seed(model)
            dx = p.langevin_sample(fork, 400, model, generator=gen, **kw)[0, :, 0, 0].numpy() - fork[0, 0, 0]
            left, right = np.mean(dx < -0.1), np.mean(dx > 0.1)
            assert left > 0.25 and right > 0.25, (noise, model, left, right)
            assert left + right > 0.9  # the branches, not the gap between them
            dx = p.langevin_sample(corridor, 400, model, generator=gen, **kw)[0, :, 0, 0].numpy()
            assert np.mean(np.abs(dx - corridor[0, 0, 0]) < 0.1) > 0.95
    # the acting policy follows the data: it moves up the corridor
    a = p.predict_chunk(np.repeat(corridor, 8, 0))[:, 0]
    assert np.all(a[:, 1] > corridor[0, 0, 1] + 0.2) and np.all(np.abs(a[:, 0]) < 0.08)
