"""Jeffreys divergence between two bootstrapped EBMs (IIFL Identity 1), no partition function.

D_J(pi_1 || pi_2)(s) = E_{a~pi_1}[E_2(s,a) - E_1(s,a)] + E_{a~pi_2}[E_1(s,a) - E_2(s,a)],
each expectation estimated with Langevin samples from that model. All robots and both models run
in one torch pass per Langevin iteration ((2, B, S) chains).

Defaults (chosen for 100 robots in <= 500 ms on 2 CPU cores with the default 3x128 EBM): 16 samples
per model and robot, 30 iterations, step 0.05 -> 1e-3 (polynomial, power 2), MALA on (Metropolis-
adjusted Langevin, so the samples follow exp(-E) exactly as the identity needs; drift clipped to 0.1
of the half-range as IIFL clips its moves), temperature 1.
IIFL's code instead reuses the policy's sampler (512 samples, 100 unadjusted iterations, noise 0.33,
i.e. samples of a sharpened exp(-E/0.11)); ``noise_scale=0.33, metropolis=False, n_samples=512,
iterations=100`` reproduces that (the score is then divided by the temperature 0.33^2).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from hitl_policy.reseed import stream_seed
from hitl_policy.uncertainty.base import UncertaintyResult


class JeffreysEstimator:
    """Score = Jeffreys divergence between two models of an EBMPolicy (any object with
    ``langevin_sample`` and ``energies`` as EBMPolicy has)."""

    name = "jeffreys"

    def __init__(self, policy, n_samples: int = 16, iterations: int = 30, step_init: float = 0.05,
                 step_final: float = 1e-3, step_power: float = 2.0, noise_scale: float = 1.0,
                 metropolis: bool = True, models: Sequence[int] = (0, 1), clamp_negative: bool = False,
                 delta_clip: float | None = 0.1, seed: int | None = 0, return_points: bool = True,
                 **params) -> None:
        if params:
            warnings.warn(f"JeffreysEstimator ignores unknown parameters {sorted(params)}", stacklevel=2)
        if policy is None or not hasattr(policy, "langevin_sample") or not hasattr(policy, "energies"):
            raise TypeError("JeffreysEstimator needs an EBM policy (langevin_sample / energies)")
        if len(models) != 2 or models[0] == models[1]:
            raise ValueError(f"models must name two different models, got {models}")
        if getattr(policy, "n_models", 2) < 2:
            raise ValueError("JeffreysEstimator needs an EBM with at least two bootstrapped models")
        if n_samples < 1 or iterations < 0 or noise_scale <= 0:
            raise ValueError("need n_samples >= 1, iterations >= 0, noise_scale > 0")
        self.policy = policy
        self.n_samples, self.iterations = int(n_samples), int(iterations)
        self.step_init, self.step_final = float(step_init), float(step_final)
        self.step_power = float(step_power)
        self.noise_scale, self.metropolis = float(noise_scale), bool(metropolis)
        self.models = (int(models[0]), int(models[1]))
        self.clamp_negative, self.return_points = bool(clamp_negative), bool(return_points)
        self.delta_clip = None if delta_clip is None else float(delta_clip)
        self.generator = torch.Generator()
        self.generator.manual_seed(np.random.SeedSequence(seed).generate_state(1)[0].item())

    def reseed(self, seed: int) -> None:
        """Restart the Langevin chains' noise from ``seed`` (hitl_policy/reseed.py says why)."""
        self.generator.manual_seed(stream_seed(seed, "jeffreys.langevin"))

    @torch.no_grad()
    def divergence(self, obs_hist: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """(B,) Jeffreys estimates and the samples (2, B, S, horizon, act_dim) in normalized units."""
        a, b = self.models
        samples = self.policy.langevin_sample(
            obs_hist, self.n_samples, (a, b), iterations=self.iterations, step_init=self.step_init,
            step_final=self.step_final, step_power=self.step_power, noise_scale=self.noise_scale,
            delta_clip=self.delta_clip, metropolis=self.metropolis, normalized=True,
            generator=self.generator)
        own = self.policy.energies(obs_hist, samples, (a, b), normalized=True)  # E_a(x_a), E_b(x_b)
        cross = self.policy.energies(obs_hist, samples, (b, a), normalized=True)  # E_b(x_a), E_a(x_b)
        d = ((cross - own).mean(-1).sum(0) / self.noise_scale**2).double().numpy()
        if self.clamp_negative:
            d = np.maximum(d, 0.0)
        return d, samples

    def estimate(self, obs_hist: np.ndarray, current: np.ndarray | None = None) -> list[UncertaintyResult]:
        """current is not needed (the EBM samples the whole action box); accepted for the interface."""
        d, samples = self.divergence(obs_hist)
        points = np.zeros((0, 0), np.float32)
        results = []
        for i, score in enumerate(d):
            if self.return_points:
                raw = self.policy.act_normalizer.unnormalize(samples[0, i, :, 0, :]) if hasattr(
                    self.policy, "act_normalizer") else samples[0, i, :, 0, :]
                points = np.asarray(raw, np.float32)
            results.append(UncertaintyResult(score=float(score), estimator=self.name, points=points))
        return results
