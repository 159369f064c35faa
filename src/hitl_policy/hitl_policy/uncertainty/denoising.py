"""Denoising-vector uncertainty for diffusion policies ("Uncertainty Comes for Free", Eq. 2-4, Alg. 1).

For each robot: sample points uniformly within radius r of the current end-effector pose, turn
them into action chunks, run the noise net once to get denoising vectors, fit Gaussian mixtures
with 1..K modes (best BIC) and score

    score = D + alpha * Var_g  (+ ood_weight * max(0, d_obs - ood_margin) in the robust variant)

with D the mean over mode pairs of (1 - cosine similarity of the mode means) and Var_g the
weight-averaged total variance of the modes. All robots of a fleet go through one torch call and
one batched EM.

The paper leaves the scales open and they decide whether the score means anything (docs/uncertainty.md).
Everything is a parameter here; :class:`PaperDenoisingVectorEstimator` is the literal recipe
(k = 0, r = 0.05 in raw action units, the raw noise vectors), :class:`DenoisingVectorEstimator` the
variant whose defaults were chosen by measurement (docs/uncertainty.md).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from hitl_policy.reseed import stream_seed
from hitl_policy.uncertainty.base import UncertaintyResult
from hitl_policy.uncertainty.gmm import fit_gmm, mixture_scores, torch_threads

VECTOR_KINDS = ("eps", "x0")
SOURCES = ("denoise", "partial", "samples")


def sample_ball(n_sets: int, n_points: int, dim: int, radius: float, gen: torch.Generator) -> torch.Tensor:
    """(n_sets, n_points, dim) points uniformly inside a ball of the given radius around 0."""
    g = torch.randn(n_sets, n_points, dim, generator=gen)
    g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    u = torch.rand(n_sets, n_points, 1, generator=gen) ** (1.0 / dim)
    return g * u * radius


class DenoisingVectorEstimator:
    """Denoising-vector GMM uncertainty, fleet-batched.

    Parameters (plain keywords, so nodes can pass ROS parameters straight through):
      radius: sampling radius around the current pose; in normalized action units ([-1, 1] over the
        data range) if ``normalized_units`` else raw action units.
      n_points: points per robot; k: diffusion timestep fed to the noise net (0 = the paper);
      action_index: which action of the chunk the vector is read from (-1 = the chunk's end);
        the sampled point fills the whole chunk ("hold" chunk);
      vector: "eps" = -eps_theta (the paper's denoising vector) or "x0" = the displacement from the
        point to the clean action the net predicts at level k (x0_hat - point);
      normalize_vectors: fit the mixture to unit directions instead of raw vectors;
      source: "denoise" (one noise-net call, as above) or "samples" (the displacements of
        ``n_points`` full DDIM samples of the chunk from the current pose: slower, no r or k);
      sample_steps: DDIM steps for source="samples" (0 = the policy's num_inference_steps);
      n_draws: independent draws whose scores are averaged (single draws are noisy);
      max_modes, alpha, covariance_type, gmm_backend ("torch" | "sklearn"), gmm_max_iter;
      ood_weight, ood_margin: add ood_weight * max(0, d - ood_margin), d = distance (normalized
        units) from the observation history to the nearest training one (0 disables);
      ood_dims: "all" entries of the observation, or only those that "varying" in the training
        data (entries constant there flag a new context from the first step; see
        DiffusionPolicy.ood_distance);
      seed; threads: torch intra-op threads for the noise-net calls (0 = auto: 1 thread below
        1024 rows, where on a busy 2-core machine 2 threads made one robot 5-10x slower, the
        caller's setting above); the EM always runs single-threaded (see gmm.torch_threads).
    """

    name = "denoising_vector"

    def __init__(
        self,
        policy,
        radius: float = 0.05,
        n_points: int = 64,
        k: int = 10,
        action_index: int = -1,
        vector: str = "x0",
        normalize_vectors: bool = False,
        normalized_units: bool = True,
        source: str = "samples",
        sample_steps: int = 0,
        n_draws: int = 1,
        max_modes: int = 4,
        alpha: float = 0.1,
        covariance_type: str = "full",
        gmm_backend: str = "torch",
        gmm_max_iter: int = 30,
        ood_weight: float = 1.0,
        ood_margin: float = 0.1,
        ood_dims: str = "varying",
        seed: int = 0,
        threads: int = 0,
    ) -> None:
        if ood_dims not in ("all", "varying"):
            raise ValueError(f"ood_dims must be 'all' or 'varying', got {ood_dims!r}")
        if getattr(policy, "kind", None) != "diffusion":
            got = getattr(policy, "kind", type(policy).__name__)
            raise ValueError(f"{self.name}: needs a diffusion policy, got {got!r}")
        if vector not in VECTOR_KINDS:
            raise ValueError(f"{self.name}: vector must be one of {VECTOR_KINDS}, got {vector!r}")
        if source not in SOURCES:
            raise ValueError(f"{self.name}: source must be one of {SOURCES}, got {source!r}")
        t_max = policy.config["num_train_timesteps"] - 1
        if not 0 <= int(k) <= t_max:
            raise ValueError(f"{self.name}: k must be in [0, {t_max}], got {k}")
        if not -policy.horizon <= int(action_index) < policy.horizon:
            raise ValueError(
                f"{self.name}: action_index {action_index} outside the chunk (horizon {policy.horizon})"
            )
        if radius < 0 or n_points < 2 or n_draws < 1 or max_modes < 1:
            raise ValueError(f"{self.name}: need radius >= 0, n_points >= 2, n_draws >= 1, max_modes >= 1")
        self.policy = policy
        self.radius, self.n_points, self.k = float(radius), int(n_points), int(k)
        self.action_index, self.vector = int(action_index), vector
        self.normalize_vectors, self.normalized_units = bool(normalize_vectors), bool(normalized_units)
        self.source, self.n_draws = source, int(n_draws)
        self.sample_steps = int(sample_steps) or None
        self.max_modes, self.alpha = int(max_modes), float(alpha)
        self.covariance_type, self.gmm_backend, self.gmm_max_iter = (
            covariance_type,
            gmm_backend,
            int(gmm_max_iter),
        )
        self.ood_weight, self.ood_margin, self.ood_dims = float(ood_weight), float(ood_margin), ood_dims
        self.seed = int(seed)
        self.threads = int(threads)
        self._gen = torch.Generator().manual_seed(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the sampled points' noise from ``seed`` (hitl_policy/reseed.py says why)."""
        self._gen.manual_seed(stream_seed(seed, f"{self.name}.points"))

    # ------------------------------------------------------------------ vectors
    @torch.no_grad()
    def vectors(self, obs_hist: np.ndarray, current: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_points, act_dim) sampled points and their vectors, both in normalized action units."""
        rows = len(obs_hist) * self.n_points
        with torch_threads(self.threads or (1 if rows < 1024 else 0)):
            return self._vectors(obs_hist, current)

    def _vectors(self, obs_hist: np.ndarray, current: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        pol = self.policy
        cond = pol.cond(obs_hist)
        cur = torch.as_tensor(np.asarray(current, np.float32))
        if cur.shape != (len(cond), pol.act_dim):
            raise ValueError(f"current must be ({len(cond)}, {pol.act_dim}), got {tuple(cur.shape)}")
        cur_n = pol.action_normalizer.normalize(cur)
        b, n = len(cond), self.n_points
        cond_r = cond.repeat_interleave(n, dim=0)
        if self.source == "samples":
            chunks = pol._ddim(cond_r, generator=self._gen, num_steps=self.sample_steps).reshape(
                b, n, pol.horizon, pol.act_dim
            )
            points = cur_n[:, None, :].expand(b, n, pol.act_dim)
            return points, chunks[:, :, self.action_index] - points
        offs = sample_ball(b, n, pol.act_dim, self.radius, self._gen)
        if self.normalized_units:
            points = cur_n[:, None, :] + offs
        else:
            points = pol.action_normalizer.normalize(cur[:, None, :] + offs)
        x = points.reshape(b * n, 1, pol.act_dim).expand(b * n, pol.horizon, pol.act_dim)
        if self.source == "partial":
            x0 = self._partial_denoise(x, cond_r).reshape(b, n, pol.horizon, pol.act_dim)
            return points, x0[:, :, self.action_index] - points
        eps = pol.predict_noise(x, self.k, cond_r)[:, self.action_index].reshape(b, n, pol.act_dim)
        if self.vector == "eps":
            return points, -eps
        abar = float(pol.alphas_cumprod[self.k])
        x0 = (points - (1 - abar) ** 0.5 * eps) / abar**0.5
        return points, x0 - points

    def _partial_denoise(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Noise the hold chunks x to level k (forward process), then deterministic DDIM back to 0 in
        ``sample_steps`` steps (default 1: a single call predicting the clean chunk)."""
        abar = self.policy.alphas_cumprod
        z = torch.randn(x.shape, generator=self._gen)
        xt = abar[self.k].sqrt() * x + (1 - abar[self.k]).sqrt() * z
        steps = self.sample_steps or 1
        ts = np.unique(np.linspace(self.k, 0, steps + 1).round().astype(int))[::-1]
        for i, t in enumerate(ts):
            eps = self.policy.predict_noise(xt, int(t), cond)
            x0 = ((xt - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()).clamp(-1, 1)
            if i + 1 >= len(ts) or t == 0:
                return x0
            tn = int(ts[i + 1])
            xt = abar[tn].sqrt() * x0 + (1 - abar[tn]).sqrt() * eps
        return x0

    # ----------------------------------------------------------------- estimate
    def estimate(self, obs_hist: np.ndarray, current: np.ndarray) -> list[UncertaintyResult]:
        pol = self.policy
        obs_hist = np.asarray(obs_hist, np.float32)
        b = len(obs_hist)
        if b == 0:
            return []
        acc_d, acc_v = np.zeros(b), np.zeros(b)
        fit = points = vecs = None
        for _ in range(self.n_draws):
            points, vecs = self.vectors(obs_hist, current)
            data = vecs / vecs.norm(dim=-1, keepdim=True).clamp_min(1e-12) if self.normalize_vectors else vecs
            fit = fit_gmm(
                data.double(),
                backend=self.gmm_backend,
                max_modes=self.max_modes,
                covariance_type=self.covariance_type,
                max_iter=self.gmm_max_iter,
                seed=self.seed,
            )
            d, v = mixture_scores(fit)
            acc_d += d / self.n_draws
            acc_v += v / self.n_draws
        assert fit is not None and points is not None and vecs is not None
        score = acc_d + self.alpha * acc_v
        if self.ood_weight > 0:
            with torch_threads(1):
                dist = pol.ood_distance(obs_hist, dims=self.ood_dims)
            score = score + self.ood_weight * np.maximum(0.0, dist - self.ood_margin)
        scale = pol.action_normalizer.scale
        pts_raw = pol.action_normalizer.unnormalize(points).numpy()
        vec_raw = (vecs * torch.as_tensor(scale)).numpy()
        out = []
        for i in range(b):
            k = int(fit.k[i])
            means = fit.means[i, :k] if self.normalize_vectors else fit.means[i, :k] * scale
            out.append(
                UncertaintyResult(
                    score=float(score[i]),
                    estimator=self.name,
                    mode_count=k,
                    mode_divergence=float(acc_d[i]),
                    within_mode_variance=float(acc_v[i]),
                    mode_means=means.astype(np.float32),
                    mode_weights=fit.weights[i, :k].astype(np.float32),
                    points=pts_raw[i],
                    vectors=vec_raw[i],
                )
            )
        return out


class PaperDenoisingVectorEstimator(DenoisingVectorEstimator):
    """The paper's literal recipe: k = 0, r = 0.05 in raw action units, 64 points, raw -eps vectors
    of the chunk's first action, K = 1..4 by BIC, alpha = 0.1, no OOD term. Keyword overrides are
    accepted (for ablations) but the defaults are the paper's."""

    name = "denoising_vector_paper"
    # where the paper departs from DenoisingVectorEstimator's defaults (radius 0.05, 64 points,
    # K <= 4, alpha 0.1 are already the same)
    PAPER_RECIPE: ClassVar[dict] = {
        "k": 0,
        "action_index": 0,
        "vector": "eps",
        "normalized_units": False,
        "source": "denoise",
        "ood_weight": 0.0,
        "ood_margin": 0.0,
    }

    def __init__(self, policy, **overrides) -> None:
        super().__init__(policy, **{**self.PAPER_RECIPE, **overrides})
