"""Diffusion policy (Chi et al.) on low-dimensional observations.

A conditional noise-prediction net eps_theta(a_k, k, o) over action chunks of ``horizon`` steps,
conditioned on the last ``n_obs`` observations; trained with diffusers' ``DDPMScheduler`` (MSE on
the noise), sampled with ``DDIMScheduler`` (``num_inference_steps``). Observations and actions are
normalized to [-1, 1] by normalizers fitted on the first training set (actions together with the
``current`` poses, because the uncertainty estimator samples around those).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from hitl_core.data import EpisodeDataset

from hitl_policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hitl_policy.learning.train_loop import optimize
from hitl_policy.models.nets import make_noise_net
from hitl_policy.normalizer import Normalizer
from hitl_policy.reseed import stream_seed

DEFAULT_CONFIG: dict[str, Any] = {
    "n_obs": 2,
    "horizon": 8,
    "n_action": 4,
    "net": "mlp",
    "hidden": [256, 256, 256],
    "down_dims": [64, 128],
    "num_train_timesteps": 100,
    "num_inference_steps": 10,
    "beta_schedule": "squaredcos_cap_v2",
    # what the net predicts: "sample" (the clean chunk x0) or "epsilon" (the noise). Measured on lift
    # (100 demos, MLP, DDIM 10): epsilon 0-43 % success after 3000-12000 steps, sample 100 % after 3000.
    "prediction_type": "sample",
    "lr": 1e-3,
    "weight_decay": 1e-6,
    "grad_clip": 10.0,
    "lr_schedule": "cosine",
    "seed": 0,
    "n_obs_reference": 4096,
}


def _as_tensor(x) -> torch.Tensor:
    return x.float() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, np.float32))


class DiffusionPolicy:
    """Raw arrays in and out; normalization, scheduling and the noise net live inside."""

    kind = "diffusion"

    def __init__(self, obs_dim: int, act_dim: int, config: dict[str, Any]) -> None:
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(
                f"diffusion policy: unknown config keys {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}"
            )
        cfg = {**DEFAULT_CONFIG, **config}
        cfg["hidden"] = [int(h) for h in cfg["hidden"]]
        cfg["down_dims"] = [int(h) for h in cfg["down_dims"]]
        if cfg["prediction_type"] not in ("sample", "epsilon"):
            raise ValueError(f"prediction_type must be 'sample' or 'epsilon', got {cfg['prediction_type']!r}")
        for key in (
            "n_obs",
            "horizon",
            "n_action",
            "num_train_timesteps",
            "num_inference_steps",
            "seed",
            "n_obs_reference",
        ):
            cfg[key] = int(cfg[key])
        if not 1 <= cfg["n_action"] <= cfg["horizon"]:
            raise ValueError(f"n_action must be in [1, horizon={cfg['horizon']}], got {cfg['n_action']}")
        if not 1 <= cfg["num_inference_steps"] <= cfg["num_train_timesteps"]:
            raise ValueError("num_inference_steps must be in [1, num_train_timesteps]")
        self.config = cfg
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.n_obs, self.horizon, self.n_action = cfg["n_obs"], cfg["horizon"], cfg["n_action"]
        torch.manual_seed(cfg["seed"])
        self.net = make_noise_net(
            cfg["net"], self.act_dim, self.horizon, self.n_obs * self.obs_dim, cfg["hidden"], cfg["down_dims"]
        )
        self.net.eval()
        sched = {
            "num_train_timesteps": cfg["num_train_timesteps"],
            "beta_schedule": cfg["beta_schedule"],
            "clip_sample": True,
            "prediction_type": cfg["prediction_type"],
        }
        self.train_scheduler = DDPMScheduler(**sched)
        self.sample_scheduler = DDIMScheduler(**sched, set_alpha_to_one=True, steps_offset=0)
        self.sample_scheduler.set_timesteps(cfg["num_inference_steps"])
        self.alphas_cumprod = self.train_scheduler.alphas_cumprod.float()
        self.obs_normalizer = Normalizer.identity(self.obs_dim)
        self.action_normalizer = Normalizer.identity(self.act_dim)
        self.fitted = False
        # a subsample of normalized training observations (flattened histories): the OOD reference
        self.obs_reference = torch.zeros(0, self.n_obs * self.obs_dim)
        self.optimizer: torch.optim.Optimizer | None = None
        self.train_steps = 0
        self._gen = torch.Generator().manual_seed(cfg["seed"] + 1)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, obs_dim: int, act_dim: int, **config: Any) -> DiffusionPolicy:
        return cls(obs_dim, act_dim, config)

    def parameters(self):
        return self.net.parameters()

    def reseed(self, seed: int) -> None:
        """Restart the sampling noise from ``seed`` (hitl_policy/reseed.py says why)."""
        self._gen.manual_seed(stream_seed(seed, "diffusion.sample"))

    # ------------------------------------------------------------- normalization
    def fit_normalizers(self, dataset: EpisodeDataset) -> None:
        self.obs_normalizer = Normalizer.fit(dataset.obs)
        self.action_normalizer = Normalizer.fit(np.concatenate([dataset.action, dataset.current]))
        self.obs_reference = torch.zeros(0, self.n_obs * self.obs_dim)
        self.fitted = True

    def add_reference(self, dataset: EpisodeDataset, steps: np.ndarray | None = None) -> None:
        """Add the dataset's (normalized, flattened) observation histories to the OOD reference,
        keeping at most ``n_obs_reference`` (a fixed-seed subsample). ``steps``: (N,) bool, only the
        histories ending at those steps (e.g. the human-driven steps of an intervention round)."""
        obs_idx, _ = dataset.window_indices(self.n_obs, self.horizon)
        if steps is not None:
            obs_idx = obs_idx[np.asarray(steps, bool)]
            if not len(obs_idx):
                return
        new = self.obs_normalizer.normalize(dataset.obs[obs_idx]).reshape(len(obs_idx), -1)
        ref = np.concatenate([self.obs_reference.numpy(), new]) if len(self.obs_reference) else new
        ref = np.unique(ref.round(4), axis=0)
        cap = self.config["n_obs_reference"]
        if len(ref) > cap:
            ref = ref[
                np.sort(np.random.default_rng(self.config["seed"]).choice(len(ref), cap, replace=False))
            ]
        self.obs_reference = torch.from_numpy(np.ascontiguousarray(ref, np.float32))

    def _check_obs(self, obs_hist) -> torch.Tensor:
        o = _as_tensor(obs_hist)
        if o.ndim != 3 or o.shape[1:] != (self.n_obs, self.obs_dim):
            raise ValueError(f"obs_hist must be (B, {self.n_obs}, {self.obs_dim}), got {tuple(o.shape)}")
        if not bool(torch.isfinite(o).all()):
            raise ValueError("obs_hist contains NaN or inf")
        return o

    def cond(self, obs_hist) -> torch.Tensor:
        """(B, n_obs, obs_dim) raw -> (B, n_obs*obs_dim) normalized conditioning."""
        o = self._check_obs(obs_hist)
        return self.obs_normalizer.normalize(o).reshape(o.shape[0], -1)

    def ood_distance(self, obs_hist, dims: str = "all") -> np.ndarray:
        """(B,) Euclidean distance (normalized units) from each observation history to the nearest
        training one: a signal of its own for out-of-distribution states, which the noise net cannot
        give (it extrapolates confidently).

        dims="varying" measures only the entries that vary in the training data. Entries constant
        there (an object-type one-hot seen with one value only) shift the whole episode at once, so
        they flag a new context from the first step; the varying entries leave the demonstrated
        manifold only where the policy actually goes wrong (e.g. the gripper closed and rising while
        the object stays on the table).
        """
        c = self.cond(obs_hist)
        ref = self.obs_reference
        if not len(ref):
            return np.zeros(len(c), np.float32)
        if dims == "varying":
            keep = ref.std(dim=0) > 1e-6
            c, ref = c[:, keep], ref[:, keep]
        elif dims != "all":
            raise ValueError(f"dims must be 'all' or 'varying', got {dims!r}")
        # direct differences, not cdist's |a|^2 + |b|^2 - 2ab: that one is faster for fleets but
        # cancels to ~3e-3 for a state that is in the reference (measured), on some CPUs more
        return torch.cdist(c, ref, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values.numpy()

    # ------------------------------------------------------------------ training
    def training_loss(self, obs_hist, act_chunk) -> torch.Tensor:
        """Per-sample DDPM noise MSE (B,) for raw (obs history, action chunk) batches."""
        cond = self.cond(obs_hist)
        a = _as_tensor(act_chunk)
        if a.ndim != 3 or a.shape[1:] != (self.horizon, self.act_dim):
            raise ValueError(f"act_chunk must be (B, {self.horizon}, {self.act_dim}), got {tuple(a.shape)}")
        x0 = self.action_normalizer.normalize(a)
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.config["num_train_timesteps"], (len(x0),))
        xt = self.train_scheduler.add_noise(x0, noise, t)
        pred = self.net(xt, t, cond)
        target = x0 if self.config["prediction_type"] == "sample" else noise
        return ((pred - target) ** 2).mean(dim=(1, 2))

    def fit(
        self,
        dataset: EpisodeDataset,
        steps: int,
        batch_size: int = 256,
        progress: bool = True,
        sample_weights: np.ndarray | None = None,
    ) -> dict:
        """Train (or continue training: the normalizers stay, the AdamW state stays within this
        process; a loaded checkpoint starts a fresh optimizer) for ``steps``
        AdamW steps on random windows; ``sample_weights`` (N,) weight the window draw."""
        if dataset.obs_dim != self.obs_dim or dataset.act_dim != self.act_dim:
            raise ValueError(
                f"dataset dims (obs {dataset.obs_dim}, act {dataset.act_dim}) do not match the policy "
                f"(obs {self.obs_dim}, act {self.act_dim})"
            )
        if dataset.n_steps == 0:
            raise ValueError("empty dataset")
        if not self.fitted:
            self.fit_normalizers(dataset)
        self.add_reference(dataset)
        obs_idx, act_idx = dataset.window_indices(self.n_obs, self.horizon)
        obs_w = torch.from_numpy(dataset.obs[obs_idx])
        act_w = torch.from_numpy(dataset.action[act_idx])
        p = None
        if sample_weights is not None:
            w = np.asarray(sample_weights, np.float64).reshape(-1)
            if len(w) != len(obs_idx) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
                raise ValueError(
                    f"sample_weights must be {len(obs_idx)} finite non-negative numbers, not all 0"
                )
            p = w / w.sum()
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=self.config["lr"], weight_decay=self.config["weight_decay"]
            )
        if self.config["lr_schedule"] not in ("cosine", "constant"):
            raise ValueError(
                f"lr_schedule must be 'cosine' or 'constant', got {self.config['lr_schedule']!r}"
            )
        warmup = min(100, steps // 10)
        lr0 = self.config["lr"]

        def lr_at(i: int) -> float:  # per fit() call: linear warm-up, then cosine decay to 0
            if self.config["lr_schedule"] == "constant":
                return lr0
            if i < warmup:
                return lr0 * (i + 1) / warmup
            return lr0 * 0.5 * (1 + np.cos(np.pi * (i - warmup) / max(1, steps - warmup)))

        rng = np.random.default_rng(self.config["seed"] + self.train_steps)
        t0 = time.perf_counter()

        def step_loss(step: int) -> torch.Tensor:
            idx = torch.from_numpy(rng.choice(len(obs_w), size=batch_size, replace=True, p=p))
            return self.training_loss(obs_w[idx], act_w[idx]).mean()

        losses = optimize(step_loss, self.optimizer, steps, modules=[self.net], clip_params=self.net.parameters(),
                          grad_clip=self.config["grad_clip"], lr_at=lr_at, progress=progress, desc="diffusion")
        self.train_steps += steps
        tail = losses[-max(1, min(100, len(losses) // 10)) :] if losses else [float("nan")]
        return {
            "steps": steps,
            "total_steps": self.train_steps,
            "final_loss": float(np.mean(tail)),
            "first_loss": losses[0] if losses else float("nan"),
            "losses": losses,
            "seconds": time.perf_counter() - t0,
            "n_windows": len(obs_w),
        }

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def predict_noise(self, x: torch.Tensor, t: int | torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """eps_theta on normalized chunks x (B, H, A) at timestep(s) t with conditioning (B, C)."""
        tt = (
            torch.as_tensor(t, dtype=torch.long).expand(len(x))
            if not isinstance(t, torch.Tensor) or t.ndim == 0
            else t
        )
        out = self.net(x, tt, cond)
        if self.config["prediction_type"] == "epsilon":
            return out
        # an x0-predicting net: the noise it implies, eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)
        abar = self.alphas_cumprod[tt].view(-1, 1, 1)
        return (x - abar.sqrt() * out) / (1 - abar).clamp_min(1e-8).sqrt()

    @torch.no_grad()
    def _ddim(
        self, cond: torch.Tensor, generator: torch.Generator | None = None, num_steps: int | None = None
    ) -> torch.Tensor:
        """Normalized DDIM samples (B, H, A); ``num_steps`` overrides num_inference_steps."""
        x = torch.randn(len(cond), self.horizon, self.act_dim, generator=generator or self._gen)
        sched = self.sample_scheduler
        if num_steps is not None and num_steps != self.config["num_inference_steps"]:
            sched = DDIMScheduler.from_config(sched.config)
            sched.set_timesteps(int(num_steps))
        for t in sched.timesteps:
            eps = self.net(x, t.expand(len(x)), cond)
            x = sched.step(eps, t, x, eta=0.0).prev_sample
        return x

    def predict_chunk(self, obs_hist: np.ndarray) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (B, horizon, act_dim) raw absolute actions (one DDIM sample each)."""
        x = self._ddim(self.cond(obs_hist))
        return self.action_normalizer.unnormalize(x).numpy()

    def sample_chunks(self, obs_hist: np.ndarray, n_samples: int) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (B, n_samples, horizon, act_dim), all in one batched DDIM run."""
        cond = self.cond(obs_hist)
        b = len(cond)
        x = self._ddim(cond.repeat_interleave(n_samples, dim=0))
        return self.action_normalizer.unnormalize(x).numpy().reshape(b, n_samples, self.horizon, self.act_dim)

    # ------------------------------------------------------------------------ I/O
    def save(self, path: str | Path) -> Path:
        state = {
            "net": self.net.state_dict(),
            "obs_reference": self.obs_reference,
            "obs_normalizer": self.obs_normalizer.state_dict(),
            "action_normalizer": self.action_normalizer.state_dict(),
        }
        return save_checkpoint(
            path,
            self.kind,
            {"obs_dim": self.obs_dim, "act_dim": self.act_dim, **self.config},
            state,
            fitted=self.fitted,
            train_steps=self.train_steps,
        )

    @classmethod
    def load(cls, path: str | Path) -> DiffusionPolicy:
        payload = load_checkpoint(path, kind=cls.kind)
        cfg = dict(payload["config"])
        try:
            obs_dim, act_dim = cfg.pop("obs_dim"), cfg.pop("act_dim")
            cfg.setdefault("prediction_type", "epsilon")  # checkpoints from before the key existed
            policy = cls(obs_dim, act_dim, cfg)
            st = payload["state"]
            policy.net.load_state_dict(st["net"])
            policy.obs_normalizer = Normalizer.from_state_dict(st["obs_normalizer"])
            policy.action_normalizer = Normalizer.from_state_dict(st["action_normalizer"])
            policy.obs_reference = st.get("obs_reference", policy.obs_reference)
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(
                f"{path}: checkpoint does not match the diffusion policy ({first[:160]})"
            ) from exc
        extra = payload.get("extra", {})
        policy.fitted = bool(extra.get("fitted", True))
        policy.train_steps = int(extra.get("train_steps", 0))
        return policy
