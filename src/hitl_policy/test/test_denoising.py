"""Denoising-vector uncertainty on the 2-D fork: fork >> corridor, off-data > in-data, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hitl_policy.registry import make_estimator
from hitl_policy.synthetic import probe_states
from hitl_policy.uncertainty.base import UncertaintyResult
from hitl_policy.uncertainty.denoising import DenoisingVectorEstimator, PaperDenoisingVectorEstimator

torch.set_num_threads(1)


def _scores(est_cls, policy, states: np.ndarray, seeds=(0, 1, 2), **params) -> np.ndarray:
    """Mean score per state over a few independent draws (single draws are noisy: docs/uncertainty.md, Evidence 1)."""
    hist = np.repeat(states[:, None, :], policy.n_obs, axis=1)
    return np.mean(
        [[r.score for r in est_cls(policy, seed=s, **params).estimate(hist, states)] for s in seeds], 0
    )


def test_fork_scores_well_above_corridor(fork_policy):
    probes = probe_states()
    fork = _scores(DenoisingVectorEstimator, fork_policy, probes["fork"])
    corridor = _scores(DenoisingVectorEstimator, fork_policy, probes["corridor"][:2])
    assert fork.mean() >= 0.1, fork
    assert fork.mean() >= 5 * corridor.mean() + 0.05, (fork, corridor)


def test_out_of_data_scores_above_in_data(fork_policy):
    probes = probe_states()
    far = _scores(DenoisingVectorEstimator, fork_policy, probes["far"])
    in_data = np.concatenate(
        [_scores(DenoisingVectorEstimator, fork_policy, probes[g]) for g in ("fork", "corridor")]
    )
    assert far.min() > in_data.max(), (far, in_data)
    # the OOD term is what does it: without it the policy extrapolates confidently (docs/uncertainty.md, Evidence 1)
    no_ood = _scores(DenoisingVectorEstimator, fork_policy, probes["far"], ood_weight=0.0)
    assert far.min() - no_ood.max() > 1.0


def test_results_describe_the_mixture(fork_policy):
    probes = probe_states()
    states = np.concatenate([probes["fork"], probes["corridor"]])
    res = DenoisingVectorEstimator(fork_policy, n_points=32).estimate(
        np.repeat(states[:, None], 2, 1), states
    )
    assert len(res) == 6 and all(isinstance(r, UncertaintyResult) for r in res)
    for r in res:
        assert r.estimator == "denoising_vector" and 1 <= r.mode_count <= 4
        assert r.mode_means.shape == (r.mode_count, 2) and r.mode_weights.shape == (r.mode_count,)
        assert abs(r.mode_weights.sum() - 1) < 1e-4
        assert r.points.shape == (32, 2) and r.vectors.shape == (32, 2)
        assert r.score == pytest.approx(r.mode_divergence + 0.1 * r.within_mode_variance, abs=1e-6)


def test_paper_recipe_samples_within_radius_in_raw_units(fork_policy):
    est = make_estimator("denoising_vector_paper", fork_policy)
    assert isinstance(est, PaperDenoisingVectorEstimator)
    assert (est.k, est.radius, est.vector, est.source, est.alpha, est.max_modes) == (
        0,
        0.05,
        "eps",
        "denoise",
        0.1,
        4,
    )
    cur = probe_states()["fork"]
    res = est.estimate(np.repeat(cur[:, None], 2, 1), cur)
    for c, r in zip(cur, res):
        dist = np.linalg.norm(r.points - c, axis=1)
        assert dist.max() <= 0.05 + 1e-5 and dist.max() > 0.03  # uniform in the ball, raw units
        assert np.isfinite(r.score) and r.score >= 0


def test_fleet_is_one_batched_call_per_denoising_step(fork_policy):
    calls = []
    hook = fork_policy.net.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        for b in (1, 5):
            states = np.tile(probe_states()["corridor"][:1], (b, 1))
            calls.clear()
            DenoisingVectorEstimator(fork_policy, n_points=16).estimate(
                np.repeat(states[:, None], 2, 1), states
            )
            assert len(calls) == fork_policy.config["num_inference_steps"] and calls[0] == 16 * b
            calls.clear()
            PaperDenoisingVectorEstimator(fork_policy).estimate(np.repeat(states[:, None], 2, 1), states)
            assert calls == [64 * b]
    finally:
        hook.remove()


def test_torch_and_sklearn_backends_agree(fork_policy):
    states = np.concatenate([probe_states()["fork"], probe_states()["corridor"]])
    hist = np.repeat(states[:, None], 2, 1)
    a = DenoisingVectorEstimator(fork_policy, seed=7, gmm_backend="torch").estimate(hist, states)
    b = DenoisingVectorEstimator(fork_policy, seed=7, gmm_backend="sklearn").estimate(hist, states)
    np.testing.assert_allclose(a[0].points, b[0].points)  # same seed: the same vectors
    agree = [ra.mode_count == rb.mode_count for ra, rb in zip(a, b)]
    assert np.mean(agree) >= 0.8
    for ra, rb, same in zip(a, b, agree):
        if same:
            assert ra.score == pytest.approx(rb.score, abs=0.02)


def test_bad_parameters_are_clear_errors(fork_policy):
    with pytest.raises(ValueError, match="k must be in"):
        DenoisingVectorEstimator(fork_policy, k=1000)
    with pytest.raises(ValueError, match="source must be"):
        DenoisingVectorEstimator(fork_policy, source="magic")
    with pytest.raises(ValueError, match="action_index"):
        DenoisingVectorEstimator(fork_policy, action_index=99)
    with pytest.raises(ValueError, match="needs a diffusion policy"):
        DenoisingVectorEstimator(object())
    with pytest.raises(ValueError, match="current must be"):
        DenoisingVectorEstimator(fork_policy).estimate(np.zeros((2, 2, 2), np.float32), np.zeros((3, 2)))
    assert (
        DenoisingVectorEstimator(fork_policy).estimate(np.zeros((0, 2, 2), np.float32), np.zeros((0, 2)))
        == []
    )
