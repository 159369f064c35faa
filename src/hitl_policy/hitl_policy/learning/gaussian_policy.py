"""A small explicit Gaussian MLP policy (diagonal Gaussian over the flattened action chunk).

It implements the Policy protocol and adds what MILE needs: exact action log-likelihoods and
reparameterized samples. Used for MILE's continuous variant, for tests of the learning algorithms,
and as the weak policy in the MILE comparison. Likelihoods are in normalized action units (the
normalizer's Jacobian is a constant and cancels in every difference MILE takes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hitl_core.data import EpisodeDataset
from torch import nn

from hitl_policy.checkpoint import load_checkpoint, save_checkpoint
from hitl_policy.normalizer import Normalizer

KIND = "gaussian"
LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0


def mlp(inp: int, out: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(inp, h), nn.Mish()]
        inp = h
    layers.append(nn.Linear(inp, out))
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    """obs (B, n_obs*obs_dim) normalized -> Normal over (B, horizon*act_dim) normalized."""

    def __init__(self, inp: int, out: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp(inp, 2 * out, hidden)
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.distributions.Normal:
        mu, log_std = self.net(x).split(self.out, dim=-1)
        return torch.distributions.Normal(mu, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp())


class GaussianMLPPolicy:
    kind = KIND

    def __init__(self, obs_dim: int, act_dim: int, n_obs: int = 1, horizon: int = 1, n_action: int = 1,
                 hidden: tuple[int, ...] = (128, 128), lr: float = 1e-3, seed: int = 0) -> None:
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.n_obs, self.horizon, self.n_action = n_obs, horizon, n_action
        self.config = {"obs_dim": obs_dim, "act_dim": act_dim, "n_obs": n_obs, "horizon": horizon,
                       "n_action": n_action, "hidden": list(hidden), "lr": lr, "seed": seed}
        torch.manual_seed(seed)
        self.head = GaussianHead(n_obs * obs_dim, horizon * act_dim, tuple(hidden))
        self.obs_norm = Normalizer.identity(obs_dim)
        self.act_norm = Normalizer.identity(act_dim)
        self.fitted = False
        self.lr = lr

    # --------------------------------------------------------------- protocol
    @classmethod
    def create(cls, obs_dim: int, act_dim: int, **config) -> GaussianMLPPolicy:
        return cls(obs_dim, act_dim, **config)

    def parameters(self):
        return self.head.parameters()

    def fit_normalizers(self, dataset: EpisodeDataset) -> None:
        self.obs_norm = Normalizer.fit(dataset.obs)
        self.act_norm = Normalizer.fit(np.concatenate([dataset.action, dataset.current]))
        self.fitted = True

    def distribution(self, obs_hist: torch.Tensor) -> torch.distributions.Normal:
        """Raw (B, n_obs, obs_dim) -> Normal over normalized flattened chunks (B, horizon*act_dim)."""
        x = self.obs_norm.normalize(obs_hist.float()).reshape(len(obs_hist), -1)
        return self.head(x)

    def flat_norm_action(self, act_chunk: torch.Tensor) -> torch.Tensor:
        return self.act_norm.normalize(act_chunk.float()).reshape(len(act_chunk), -1)

    def log_prob(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        """(B,) log-likelihood of raw chunks (B, horizon, act_dim), normalized units."""
        return self.distribution(obs_hist).log_prob(self.flat_norm_action(act_chunk)).sum(-1)

    def training_loss(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        """Per-sample NLL, averaged over chunk dimensions."""
        return -self.log_prob(obs_hist, act_chunk) / (self.horizon * self.act_dim)

    @torch.no_grad()
    def predict_chunk(self, obs_hist: np.ndarray) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs_hist, np.float32)).reshape(-1, self.n_obs, self.obs_dim)
        mu = self.distribution(o).mean.reshape(-1, self.horizon, self.act_dim)
        return self.act_norm.unnormalize(mu).numpy()

    def fit(self, dataset: EpisodeDataset, steps: int, batch_size: int = 256, progress: bool = True,
            sample_weights: np.ndarray | None = None) -> dict:
        if not self.fitted:
            self.fit_normalizers(dataset)
        from hitl_policy.learning.sampling import WeightedBatchSampler
        from hitl_policy.learning.train_loop import train_loop

        w = np.ones(dataset.n_steps) if sample_weights is None else sample_weights
        losses = train_loop(self, dataset, WeightedBatchSampler(w, batch_size, self.config["seed"]).sample,
                            steps, lr=self.lr, progress=progress, desc="gaussian fit")
        return {"steps": steps, "loss_first": losses[0], "loss_last": float(np.mean(losses[-20:]))}

    # -------------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> Path:
        return save_checkpoint(path, KIND, self.config, {
            "head": self.head.state_dict(), "obs_norm": self.obs_norm.state_dict(),
            "act_norm": self.act_norm.state_dict(), "fitted": self.fitted})

    @classmethod
    def load(cls, path: str | Path) -> GaussianMLPPolicy:
        payload = load_checkpoint(path, KIND)
        cfg = dict(payload["config"])
        pol = cls(cfg.pop("obs_dim"), cfg.pop("act_dim"), **{**cfg, "hidden": tuple(cfg["hidden"])})
        st = payload["state"]
        pol.head.load_state_dict(st["head"])
        pol.obs_norm = Normalizer.from_state_dict(st["obs_norm"])
        pol.act_norm = Normalizer.from_state_dict(st["act_norm"])
        pol.fitted = bool(st["fitted"])
        return pol
