"""M independent MLPs evaluated in one batched matmul (ensembles and bootstrapped EBMs).

Stacking the members' weights as (M, in, out) lets a whole ensemble (or both IIFL EBMs, each on
its own Langevin chains) run in one torch pass instead of M Python-level passes.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from hitl_core.data import EpisodeDataset
from torch import nn

from hitl_policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hitl_policy.learning.train_loop import optimize
from hitl_policy.normalizer import Normalizer

ACTIVATIONS = {"relu": nn.functional.relu, "silu": nn.functional.silu, "mish": nn.functional.mish,
               "gelu": nn.functional.gelu}


class StackedMLP(nn.Module):
    """x (m, N, in_dim) -> (m, N, out_dim), member k of the stack applied to x[k].

    ``members`` (a list of member indices, length m) picks which members run; default all.
    """

    def __init__(self, n_members: int, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
                 activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: expected one of {sorted(ACTIVATIONS)}")
        if n_members < 1 or in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"bad MLP sizes: members={n_members} in={in_dim} out={out_dim} hidden={hidden}")
        self.n_members, self.in_dim, self.out_dim = n_members, in_dim, out_dim
        self.activation = activation
        dims = [in_dim, *hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for d_in, d_out in itertools.pairwise(dims):
            bound = 1.0 / math.sqrt(d_in)  # nn.Linear's default init range
            self.weights.append(nn.Parameter(torch.empty(n_members, d_in, d_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_members, 1, d_out).uniform_(-bound, bound)))

    def _pick(self, p: torch.Tensor, members: Sequence[int] | None) -> torch.Tensor:
        return p if members is None else p[list(members)]

    def input_projection(self, x: torch.Tensor, members: Sequence[int] | None = None,
                         rows: slice = slice(None)) -> torch.Tensor:
        """First-layer pre-activation contribution of input columns ``rows``: x (m, N, k) -> (m, N, h0).

        Lets a caller project a part of the input that is shared by many rows (the observation,
        shared by all Langevin samples of a robot) once instead of once per sample.
        """
        return torch.bmm(x, self._pick(self.weights[0], members)[:, rows, :])

    def forward_from_projection(self, h: torch.Tensor, members: Sequence[int] | None = None) -> torch.Tensor:
        """Finish the pass from a summed first-layer projection h (m, N, h0) (bias not yet added)."""
        act = ACTIVATIONS[self.activation]
        h = h + self._pick(self.biases[0], members)
        for w, b in zip(list(self.weights)[1:], list(self.biases)[1:]):
            h = torch.baddbmm(self._pick(b, members), act(h), self._pick(w, members))
        return h

    def forward(self, x: torch.Tensor, members: Sequence[int] | None = None) -> torch.Tensor:
        m = self.n_members if members is None else len(members)
        if x.dim() != 3 or x.shape[0] != m or x.shape[2] != self.in_dim:
            raise ValueError(f"StackedMLP expects (m={m}, N, {self.in_dim}) input, got {tuple(x.shape)}")
        return self.forward_from_projection(self.input_projection(x, members), members)


# ------------------------------------------------------------------ helpers shared by EBM / ensemble
def as_float_tensor(x, device: torch.device | str = "cpu") -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(x, np.float32), device=device)


def check_obs_hist(obs_hist, n_obs: int, obs_dim: int) -> torch.Tensor:
    """(B, n_obs, obs_dim) or (n_obs, obs_dim) for one robot -> (B, n_obs, obs_dim) float tensor."""
    t = as_float_tensor(obs_hist)
    if t.dim() == 2 and t.shape == (n_obs, obs_dim):
        t = t[None]
    if t.dim() != 3 or t.shape[1:] != (n_obs, obs_dim):
        raise ValueError(f"obs_hist must be (B, {n_obs}, {obs_dim}), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("obs_hist contains NaN or inf")
    return t


def check_chunk(act, horizon: int, act_dim: int, lead: int = 1) -> torch.Tensor:
    """Actions (..., horizon, act_dim) or (..., horizon*act_dim) -> (..., horizon*act_dim)."""
    t = as_float_tensor(act)
    d = horizon * act_dim
    if t.dim() == lead + 2 and t.shape[-2:] == (horizon, act_dim):
        t = t.reshape(*t.shape[:-2], d)
    if t.dim() != lead + 1 or t.shape[-1] != d:
        raise ValueError(f"actions must be (..., {horizon}, {act_dim}) or (..., {d}) with {lead} leading "
                         f"dims, got {tuple(t.shape)}")
    return t


def training_windows(dataset: EpisodeDataset, n_obs: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, n_obs, obs_dim) observation histories and (M, horizon, act_dim) action chunks, one per step."""
    obs_idx, act_idx = dataset.window_indices(n_obs, horizon)
    return dataset.obs[obs_idx], dataset.action[act_idx]


def bootstrap_probabilities(n: int, n_members: int, sample_weights: np.ndarray | None, bootstrap: bool,
                            rng: np.random.Generator) -> torch.Tensor:
    """(n_members, n) batch-sampling probabilities: each member's bootstrap resample (multinomial
    counts, as IFL/IIFL fill each member's replay memory by sampling with replacement) times the
    caller's per-window weights (IWR-style reweighting)."""
    w = np.ones(n) if sample_weights is None else np.asarray(sample_weights, np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"sample_weights must be {n} finite non-negative numbers with a positive sum")
    counts = (rng.multinomial(n, np.full(n, 1.0 / n), size=n_members).astype(np.float64) if bootstrap
              else np.ones((n_members, n)))
    p = counts * w[None]
    dead = p.sum(1) <= 0  # a resample that missed every weighted window: fall back to the weights
    p[dead] = w
    return torch.as_tensor(p / p.sum(1, keepdims=True), dtype=torch.float32)


class NetCheckpointMixin:
    """``create`` / ``save`` / ``load`` of a policy that is one ``net`` plus an observation and an
    action normalizer (the EBM and the ensemble): config, weights, normalizers, training counters."""

    kind: str
    label: str  # for error messages, e.g. "EBM"

    @classmethod
    def create(cls, obs_dim: int, act_dim: int, **config):
        with torch.random.fork_rng():
            torch.manual_seed(int(config.get("seed", 0)))
            return cls(obs_dim, act_dim, config)

    def save(self, path: str | Path) -> Path:
        return save_checkpoint(
            path, self.kind, {"obs_dim": self.obs_dim, "act_dim": self.act_dim, **self.config},
            {"net": self.net.state_dict(), "obs_normalizer": self.obs_normalizer.state_dict(),
             "act_normalizer": self.act_normalizer.state_dict()},
            train_steps=self.train_steps, normalizers_fitted=self.normalizers_fitted)

    @classmethod
    def load(cls, path: str | Path):
        payload = load_checkpoint(path, kind=cls.kind)
        cfg, state = dict(payload["config"]), payload["state"]
        try:
            obs_dim, act_dim = int(cfg.pop("obs_dim")), int(cfg.pop("act_dim"))
            policy = cls(obs_dim, act_dim, cfg)
            policy.net.load_state_dict(state["net"])
            policy.obs_normalizer = Normalizer.from_state_dict(state["obs_normalizer"])
            policy.act_normalizer = Normalizer.from_state_dict(state["act_normalizer"])
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path}: {cls.label} checkpoint does not match the model ({msg[:200]})") from exc
        extra = payload.get("extra", {})
        policy.train_steps = int(extra.get("train_steps", 0))
        policy.normalizers_fitted = bool(extra.get("normalizers_fitted", True))
        return policy


def merge_config(label: str, defaults: dict, config: dict | None) -> dict:
    """``config`` over ``defaults``; a key the defaults lack is an error; hidden sizes as ints."""
    config = dict(config or {})
    unknown = set(config) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {label} config keys {sorted(unknown)}; known: {sorted(defaults)}")
    cfg = {**defaults, **config}
    cfg["hidden"] = [int(h) for h in cfg["hidden"]]
    return cfg


class BootstrapMembersMixin:
    """Shapes, normalization and ``fit`` of a policy made of M members that each train on their own
    bootstrap resample of the windows (the EBM's models, the ensemble's members).

    The class calls ``_init_members`` in its constructor and supplies ``_member_losses(obs (M, B, obs_in),
    act (M, B, D)) -> (M, B)`` in normalized units, ``_bootstrap_members()`` (M) and ``fit_desc``
    (progress label); it may override ``_ensure_optimizer`` and ``_after_train_step``.
    """

    fit_desc: str

    def _init_members(self, obs_dim: int, act_dim: int, cfg: dict) -> None:
        """Shapes from the merged config, identity normalizers, no training yet."""
        self.config = cfg
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.n_obs, self.horizon, self.n_action = int(cfg["n_obs"]), int(cfg["horizon"]), int(cfg["n_action"])
        self.obs_in = self.n_obs * self.obs_dim
        self.chunk_dim = self.horizon * self.act_dim
        self.obs_normalizer = Normalizer.identity(self.obs_dim)
        self.act_normalizer = Normalizer.identity(self.act_dim)
        self.normalizers_fitted = False
        self.train_steps = 0
        self._optimizer: torch.optim.Optimizer | None = None

    def _norm_obs(self, obs_hist) -> torch.Tensor:
        """raw (B, n_obs, obs_dim) -> normalized flat (B, obs_in)."""
        t = check_obs_hist(obs_hist, self.n_obs, self.obs_dim)
        return self.obs_normalizer.normalize(t).reshape(len(t), self.obs_in)

    def _norm_act(self, act: torch.Tensor) -> torch.Tensor:
        """raw (..., chunk_dim) -> normalized (..., chunk_dim)."""
        shape = act.shape
        chunks = act.reshape(*shape[:-1], self.horizon, self.act_dim)
        return self.act_normalizer.normalize(chunks).reshape(shape)

    def _bootstrap_members(self) -> int:
        raise NotImplementedError

    def _ensure_optimizer(self) -> torch.optim.Optimizer:
        if self._optimizer is None:
            self._optimizer = torch.optim.Adam(self.parameters(), lr=self.config["lr"],
                                               weight_decay=self.config["weight_decay"])
        return self._optimizer

    def _after_train_step(self) -> None:
        self.train_steps += 1

    def _normalized_batch(self, obs_hist, act_chunk) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (B, n_obs, obs_dim) histories and (B, horizon, act_dim) chunks -> normalized (B, obs_in), (B, D)."""
        obs_n = self._norm_obs(obs_hist)
        act_n = self._norm_act(check_chunk(act_chunk, self.horizon, self.act_dim))
        if len(act_n) != len(obs_n):
            raise ValueError(f"{len(obs_n)} observation histories but {len(act_n)} action chunks")
        return obs_n, act_n

    def training_loss(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        """Per-sample loss (B,), raw inputs, averaged over the members (the same batch for all)."""
        obs_n, act_n = self._normalized_batch(obs_hist, act_chunk)
        m = self._bootstrap_members()
        return self._member_losses(obs_n.expand(m, -1, -1), act_n.expand(m, -1, -1)).mean(0)

    def fit_normalizers(self, dataset: EpisodeDataset) -> None:
        self.obs_normalizer = Normalizer.fit(dataset.obs)
        self.act_normalizer = Normalizer.fit(dataset.action)
        self.normalizers_fitted = True

    def fit(self, dataset: EpisodeDataset, steps: int, batch_size: int = 256, progress: bool = True,
            sample_weights: np.ndarray | None = None) -> dict:
        """Train every member on its own bootstrap resample of the windows; normalizers are fitted on
        the first call only (fine-tuning keeps them). sample_weights (N,): per-window sampling weights."""
        if dataset.obs_dim != self.obs_dim or dataset.act_dim != self.act_dim:
            raise ValueError(f"dataset is obs {dataset.obs_dim} / act {dataset.act_dim}, policy is "
                             f"obs {self.obs_dim} / act {self.act_dim}")
        if dataset.n_steps == 0 or steps < 0 or batch_size < 1:
            raise ValueError(f"need a non-empty dataset, steps >= 0, batch_size >= 1 (got {dataset.n_steps}, "
                             f"{steps}, {batch_size})")
        if not self.normalizers_fitted:
            self.fit_normalizers(dataset)
        obs_w, act_w = training_windows(dataset, self.n_obs, self.horizon)
        obs_t = self._norm_obs(obs_w)
        act_t = self._norm_act(as_float_tensor(act_w).reshape(len(act_w), self.chunk_dim))
        members = self._bootstrap_members()
        rng = np.random.default_rng(int(self.config["seed"]) + self.train_steps)
        probs = bootstrap_probabilities(len(obs_t), members, sample_weights, bool(self.config["bootstrap"]), rng)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        opt = self._ensure_optimizer()
        t0 = time.perf_counter()

        def step_loss(step: int) -> torch.Tensor:
            idx = torch.multinomial(probs, batch_size, replacement=True, generator=gen)  # (M, batch)
            return self._member_losses(obs_t[idx], act_t[idx]).mean(1).sum()  # members are independent

        losses = optimize(step_loss, opt, steps, modules=[self], after_step=self._after_train_step, members=members,
                          progress=progress, desc=self.fit_desc)
        tail = losses[-max(1, len(losses) // 10):] if losses else [float("nan")]
        return {"steps": steps, "total_steps": self.train_steps, "loss": float(np.mean(tail)),
                "first_loss": losses[0] if losses else float("nan"), "seconds": time.perf_counter() - t0,
                "n_windows": len(obs_t)}
