"""Diffusion policy: training, DDIM sampling of a bimodal fork, chunk shapes, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.synthetic import FORK_Y, make_fork_dataset, probe_states

torch.set_num_threads(1)


def _hist(states: np.ndarray, n_obs: int = 2) -> np.ndarray:
    return np.repeat(states[:, None, :], n_obs, axis=1)


def test_fork_samples_land_in_both_branches(fork_policy):
    fork = probe_states()["fork"]
    ends = fork_policy.sample_chunks(_hist(fork), 100)[:, :, -1, :]  # (3, 100, 2): chunk end
    assert ends.shape == (3, 100, 2)
    for state, end in zip(fork, ends):
        left = np.mean(end[:, 0] < state[0] - 0.05)
        right = np.mean(end[:, 0] > state[0] + 0.05)
        assert left >= 0.2 and right >= 0.2, (state, left, right)
        assert np.all(end[:, 1] > FORK_Y - 0.05)  # moving on up, not back


def test_corridor_samples_go_straight(fork_policy):
    corridor = probe_states()["corridor"][:2]  # y = 0.3, 0.5: the chunk ends before the fork
    ends = fork_policy.sample_chunks(_hist(corridor), 100)[:, :, -1, :]
    assert np.mean(np.abs(ends[..., 0]) < 0.08) >= 0.9
    assert np.all(ends[..., 1] > corridor[:, None, 1] + 0.1)


def test_chunk_shapes_and_loss(fork_policy):
    p = fork_policy
    obs = _hist(probe_states()["corridor"])
    chunk = p.predict_chunk(obs)
    assert chunk.shape == (3, p.horizon, p.act_dim) and chunk.dtype == np.float32
    assert (p.kind, p.n_obs, p.horizon, p.n_action, p.obs_dim, p.act_dim) == ("diffusion", 2, 8, 4, 2, 2)
    loss = p.training_loss(torch.as_tensor(obs), torch.as_tensor(chunk))
    assert loss.shape == (3,) and torch.all(loss >= 0)
    with pytest.raises(ValueError, match="obs_hist must be"):
        p.predict_chunk(obs[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        p.predict_chunk(np.full_like(obs, np.nan))


def test_training_reduces_loss_and_continues_unet():
    ds = make_fork_dataset(10, seed=1)
    p = DiffusionPolicy.create(2, 2, net="unet", down_dims=[16, 32], horizon=8, seed=3)
    stats = p.fit(ds, 60, batch_size=32, progress=False)
    assert np.mean(stats["losses"][-10:]) < 0.8 * np.mean(stats["losses"][:5])
    off = np.zeros(ds.n_steps)
    off[: ds.episode_ends[0]] = 1.0  # continue fine-tuning on one episode only
    stats2 = p.fit(ds, 5, batch_size=8, progress=False, sample_weights=off)
    assert stats2["total_steps"] == 65
    assert p.predict_chunk(_hist(ds.obs[:2])).shape == (2, 8, 2)
    with pytest.raises(ValueError, match="sample_weights"):
        p.fit(ds, 1, sample_weights=np.ones(3), progress=False)


def test_normalizers_fitted_on_data():
    ds = make_fork_dataset(6, seed=2)
    p = DiffusionPolicy.create(2, 2, hidden=[16], seed=0)
    p.fit(ds, 1, batch_size=4, progress=False)
    lo, hi = p.action_normalizer.normalize(ds.action).min(0), p.action_normalizer.normalize(ds.action).max(0)
    assert np.all(lo >= -1 - 1e-5) and np.all(hi <= 1 + 1e-5) and np.all(hi - lo > 1.5)
    windows = ds.obs[ds.window_indices(2, 8)[0][:5]]
    assert p.ood_distance(windows).max() < 1e-3  # training histories are in the reference
    assert p.ood_distance(_hist(np.array([[5.0, 5.0]], np.float32)))[0] > 3.0


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown config keys"):
        DiffusionPolicy.create(2, 2, hiden=[3])
    with pytest.raises(ValueError, match="n_action"):
        DiffusionPolicy.create(2, 2, horizon=4, n_action=6)
    with pytest.raises(ValueError, match="divisible"):
        DiffusionPolicy.create(2, 2, net="unet", horizon=6, down_dims=[8, 16, 32])
    with pytest.raises(ValueError, match="noise net"):
        DiffusionPolicy.create(2, 2, net="transformer")
    p = DiffusionPolicy.create(3, 2, hidden=[8])
    with pytest.raises(ValueError, match="do not match"):
        p.fit(make_fork_dataset(2), 1, progress=False)
