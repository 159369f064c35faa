"""Explicit ensemble BC (the IFL / ThriftyDAgger baseline): M MLPs, each on its own bootstrap resample.

head="gaussian": each member outputs a mean and a log-std per chunk dimension (NLL loss); this gives
action likelihoods (``log_prob``) for MILE. head="deterministic": MSE regression, as ThriftyDAgger's
ensemble. The policy acts with the members' mean; the ensemble-variance estimator uses the spread of
the members' means (aleatoric std is not part of it, as in IFL).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hitl_policy.models.mlp import (
    BootstrapMembersMixin,
    NetCheckpointMixin,
    StackedMLP,
    check_chunk,
    merge_config,
)

DEFAULT_CONFIG: dict = {
    "n_obs": 1, "horizon": 1, "n_action": 1,
    "n_members": 5, "hidden": [256, 256], "activation": "relu", "head": "gaussian",
    "bootstrap": True, "seed": 0, "lr": 1e-3, "weight_decay": 0.0,
    "min_log_std": -5.0, "max_log_std": 1.0,  # normalized action units
}


class EnsemblePolicy(NetCheckpointMixin, BootstrapMembersMixin, nn.Module):
    """M explicit BC members in one stacked MLP; raw arrays in and out, normalization inside."""

    kind = "ensemble"
    label = "ensemble"
    fit_desc = "ensemble"

    def __init__(self, obs_dim: int, act_dim: int, config: dict | None = None) -> None:
        super().__init__()
        cfg = merge_config(self.label, DEFAULT_CONFIG, config)
        if cfg["head"] not in ("gaussian", "deterministic"):
            raise ValueError(f"head must be 'gaussian' or 'deterministic', got {cfg['head']!r}")
        if not 1 <= cfg["n_action"] <= cfg["horizon"] or cfg["n_obs"] < 1 or cfg["n_members"] < 1:
            raise ValueError("need n_obs >= 1, n_members >= 1 and 1 <= n_action <= horizon")
        self._init_members(obs_dim, act_dim, cfg)
        self.n_members = int(cfg["n_members"])
        self.gaussian = cfg["head"] == "gaussian"
        out = 2 * self.chunk_dim if self.gaussian else self.chunk_dim
        self.net = StackedMLP(self.n_members, self.obs_in, out, cfg["hidden"], cfg["activation"])

    # ----------------------------------------------------------------- creation / files
    # ------------------------------------------------------------------------ forward
    def _heads(self, obs_n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """obs (B, obs_in) or (M, B, obs_in) normalized -> mean (M, B, D), log_std (M, B, D) or None."""
        x = obs_n.expand(self.n_members, -1, -1) if obs_n.dim() == 2 else obs_n
        out = self.net(x)
        if not self.gaussian:
            return out, None
        mean, log_std = out.split(self.chunk_dim, -1)
        return mean, log_std.clamp(self.config["min_log_std"], self.config["max_log_std"])

    def _member_losses(self, obs_n: torch.Tensor, act_n: torch.Tensor) -> torch.Tensor:
        """Per member and sample (M, B): Gaussian NLL or MSE, mean over chunk dims (normalized units)."""
        mean, log_std = self._heads(obs_n)
        if log_std is None:
            return (mean - act_n).pow(2).mean(-1)
        z = (act_n - mean) * torch.exp(-log_std)
        return (0.5 * z.pow(2) + log_std + 0.5 * math.log(2 * math.pi)).mean(-1)

    @torch.no_grad()
    def member_predictions(self, obs_hist) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (M, B, horizon, act_dim): every member's mean chunk, raw units."""
        mean, _ = self._heads(self._norm_obs(obs_hist))
        m, b, _ = mean.shape
        return self.act_normalizer.unnormalize(mean.reshape(m, b, self.horizon, self.act_dim)).numpy()

    def predict_chunk(self, obs_hist: np.ndarray) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (B, horizon, act_dim): the members' mean."""
        return self.member_predictions(obs_hist).mean(0).astype(np.float32)

    def log_prob(self, obs_hist, act_chunk, reduce: str = "mixture") -> torch.Tensor:
        """log pi(a | s) (B,) in raw action units, differentiable (MILE trains through it).

        reduce="mixture": the ensemble as an equal-weight mixture of the members' Gaussians;
        "mean": the average of the members' log-likelihoods. Needs head="gaussian".
        """
        if not self.gaussian:
            raise ValueError("log_prob needs a Gaussian head: create the ensemble with head='gaussian'")
        if reduce not in ("mixture", "mean"):
            raise ValueError(f"reduce must be 'mixture' or 'mean', got {reduce!r}")
        obs_n = self._norm_obs(obs_hist)
        act = check_chunk(act_chunk, self.horizon, self.act_dim)
        if len(act) != len(obs_n):
            raise ValueError(f"{len(obs_n)} observation histories but {len(act)} action chunks")
        act_n = self._norm_act(act)
        mean, log_std = self._heads(obs_n)
        z = (act_n[None] - mean) * torch.exp(-log_std)
        lp = (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)  # (M, B), normalized units
        lp = torch.logsumexp(lp, 0) - math.log(self.n_members) if reduce == "mixture" else lp.mean(0)
        log_det = float(np.log(self.act_normalizer.scale).sum()) * self.horizon  # raw = scale * normalized
        return lp - log_det

    # ----------------------------------------------------------------------- training
    def _bootstrap_members(self) -> int:
        return self.n_members
