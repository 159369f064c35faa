"""Implicit policy (IBC, as IIFL uses it): energy MLP E(s, a), InfoNCE with Langevin counter-examples.

pi(a | s) = exp(-E(s, a)) / Z(s) over the action box (normalized actions in [-1-m, 1+m]).
Training (IIFL Table 3 defaults): 8 counter-examples per sample from Langevin MCMC started at uniform
samples, 100 iterations, step 0.1 -> 1e-5 with polynomial decay of power 2, plus IBC's gradient
penalty (max(0, ||dE/da||_inf - 1)^2 at the counter-examples). Inference: 512 uniform samples refined
by Langevin, the lowest energy wins. Two models, each trained on its own bootstrap resample, so the
Jeffreys estimator can compare them.

Differences from IIFL's code, all configurable: no spectral norm; a 3x128 MLP instead of 6x256 (CPU budget);
the step schedule is IBC's (TF ``polynomial_decay``: (init-final)(1-t/T)^p + final) rather than
IIFL's blend (init + (t/T)^p (final-init)), which keeps the step near 0.1 until the last few
iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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
    "hidden": [128, 128, 128], "activation": "relu",
    "n_models": 2, "bootstrap": True, "seed": 0,
    # optimizer (IIFL Table 3: lr 5e-4, decay 0.99 every 100 steps)
    "lr": 5e-4, "lr_decay": 0.99, "lr_decay_steps": 100, "weight_decay": 0.0,
    # counter-examples and Langevin MCMC (IIFL Table 3)
    "train_counter_examples": 8, "counter_examples": "langevin",  # or "uniform"
    "langevin_iterations": 100, "train_langevin_iterations": None,  # None: same as langevin_iterations
    "step_init": 0.1, "step_final": 1e-5, "step_power": 2.0,
    "noise_scale": 0.33,  # IIFL's code; the sampled density is exp(-E / noise_scale^2)
    "delta_clip": 0.1,  # max |step| per dimension, as a fraction of the half-range (IIFL/IBC)
    "grad_penalty": True, "grad_margin": 1.0, "grad_penalty_weight": 1.0,
    "inference_counter_examples": 512, "inference_select": "argmax",  # or "sample" (softmax(-E))
    "action_margin": 0.05,  # the action box is [-1-m, 1+m] in normalized units
    "policy_model": 0,  # which bootstrapped model acts
}

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def step_schedule(iterations: int, init: float, final: float, power: float) -> list[float]:
    """Polynomially decayed Langevin step sizes, init -> final over ``iterations`` steps."""
    if iterations <= 0:
        return []
    if iterations == 1:
        return [init]
    return [(init - final) * (1.0 - i / (iterations - 1)) ** power + final for i in range(iterations)]


def langevin(energy_fn: EnergyFn, y: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, steps: Sequence[float],
             noise_scale: float = 1.0, delta_clip: float | None = None, metropolis: bool = False,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Langevin MCMC on y (..., D) toward exp(-E / noise_scale^2), kept inside [lo, hi].

    Unadjusted (IBC/IIFL): y <- clip(y - eps dE/dy + sqrt(2 eps) * noise_scale * xi), with the move
    clipped to ``delta_clip`` per dimension. ``metropolis=True`` adds the MALA accept/reject test
    (proposals outside the box are rejected; ``delta_clip`` clips only the drift, which is part of the
    proposal density, so the test stays exact), so the chain's stationary law is the box-restricted
    Boltzmann density for any step size: what the Jeffreys identity needs. Without the drift clip
    the steep energies of a trained EBM (far from the data, linear and steep) make every proposal
    leave the box and the chains never move. One energy + gradient evaluation per iteration.
    """
    temp = float(noise_scale) ** 2
    with torch.enable_grad():
        def value_and_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = x.detach().requires_grad_(True)
            e = energy_fn(x)
            (g,) = torch.autograd.grad(e.sum(), x)
            return e.detach(), g.detach()

        y = y.detach()
        e, g = value_and_grad(y)
        def drift(grad: torch.Tensor, eps: float) -> torch.Tensor:
            d = eps * grad
            return d if delta_clip is None else d.clamp(-delta_clip, delta_clip)

        for eps in steps:
            xi = torch.randn(y.shape, generator=generator, dtype=y.dtype)
            mean_fwd = y - (drift(g, eps) if metropolis else eps * g)
            prop = mean_fwd + math.sqrt(2.0 * eps) * noise_scale * xi
            if not metropolis:
                delta = prop - y
                if delta_clip is not None:
                    delta = delta.clamp(-delta_clip, delta_clip)
                y = torch.maximum(torch.minimum(y + delta, hi), lo)
                e, g = value_and_grad(y)
                continue
            inside = ((prop >= lo) & (prop <= hi)).all(-1)
            prop = torch.maximum(torch.minimum(prop, hi), lo)  # keep the energy net in range; rejected anyway
            e_p, g_p = value_and_grad(prop)
            mean_bwd = prop - drift(g_p, eps)
            log_q_fwd = -((prop - mean_fwd) ** 2).sum(-1) / (4.0 * eps * temp)
            log_q_bwd = -((y - mean_bwd) ** 2).sum(-1) / (4.0 * eps * temp)
            log_alpha = -(e_p - e) / temp + log_q_bwd - log_q_fwd
            u = torch.rand(log_alpha.shape, generator=generator, dtype=y.dtype)
            accept = inside & (torch.log(u) < log_alpha)
            y = torch.where(accept[..., None], prop, y)
            e = torch.where(accept, e_p, e)
            g = torch.where(accept[..., None], g_p, g)
    return y.detach()


class EBMPolicy(NetCheckpointMixin, BootstrapMembersMixin, nn.Module):
    """Bootstrapped implicit policies over raw arrays; normalization lives inside."""

    kind = "ebm"
    label = "EBM"
    fit_desc = "ebm"

    def __init__(self, obs_dim: int, act_dim: int, config: dict | None = None) -> None:
        super().__init__()
        cfg = merge_config(self.label, DEFAULT_CONFIG, config)
        if cfg["counter_examples"] not in ("langevin", "uniform"):
            raise ValueError(f"counter_examples must be 'langevin' or 'uniform', got "
                             f"{cfg['counter_examples']!r}")
        if cfg["inference_select"] not in ("argmax", "sample"):
            raise ValueError(f"inference_select must be 'argmax' or 'sample', got "
                             f"{cfg['inference_select']!r}")
        if not 1 <= cfg["n_action"] <= cfg["horizon"] or cfg["n_obs"] < 1:
            raise ValueError(f"need n_obs >= 1 and 1 <= n_action <= horizon, got {cfg['n_obs']}, "
                             f"{cfg['n_action']}, {cfg['horizon']}")
        if not 0 <= cfg["policy_model"] < cfg["n_models"]:
            raise ValueError(f"policy_model {cfg['policy_model']} not in [0, {cfg['n_models']})")
        self._init_members(obs_dim, act_dim, cfg)
        self.n_models = int(cfg["n_models"])
        self.net = StackedMLP(self.n_models, self.obs_in + self.chunk_dim, 1, cfg["hidden"],
                              cfg["activation"])
        self._scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    # ----------------------------------------------------------------- creation / files
    # ------------------------------------------------------------------- normalization
    def _unnorm_act(self, act: torch.Tensor) -> torch.Tensor:
        """normalized (..., chunk_dim) -> raw (..., horizon, act_dim)."""
        return self.act_normalizer.unnormalize(act.reshape(*act.shape[:-1], self.horizon, self.act_dim))

    def action_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The action box (chunk_dim,) in normalized units."""
        m = 1.0 + float(self.config["action_margin"])
        return torch.full((self.chunk_dim,), -m), torch.full((self.chunk_dim,), m)

    # ----------------------------------------------------------------------- energies
    def _members(self, model_index: int | Sequence[int]) -> tuple[list[int], bool]:
        single = isinstance(model_index, (int, np.integer))
        members = [int(model_index)] if single else [int(i) for i in model_index]
        if not members or any(not 0 <= i < self.n_models for i in members):
            raise ValueError(f"model_index {model_index} out of range for {self.n_models} models")
        return members, single

    def _energy_fn(self, obs_n: torch.Tensor, members: list[int], detach_obs: bool = False) -> EnergyFn:
        """Energy of normalized actions (m, B, S, D) -> (m, B, S) given normalized obs (B|m, ..., obs_in).

        obs_n is (B, obs_in) (shared by the members) or (m, B, obs_in). The observation's share of the
        first layer is computed once, not once per sample. Subclasses (tests) may replace this.
        """
        m = len(members)
        obs3 = obs_n.expand(m, -1, -1) if obs_n.dim() == 2 else obs_n
        with torch.set_grad_enabled(torch.is_grad_enabled() and not detach_obs):
            obs_proj = self.net.input_projection(obs3, members, slice(0, self.obs_in))  # (m, B, h)

        def fn(act_n: torch.Tensor) -> torch.Tensor:
            mm, B, S, D = act_n.shape
            h = self.net.input_projection(act_n.reshape(mm, B * S, D), members, slice(self.obs_in, None))
            h = h.reshape(mm, B, S, -1) + obs_proj[:, :, None, :]
            return self.net.forward_from_projection(h.reshape(mm, B * S, -1), members).reshape(mm, B, S)

        return fn

    def energies(self, obs_hist, actions, model_index: int | Sequence[int] = 0,
                 normalized: bool = False) -> torch.Tensor:
        """E(s, a) for actions (B, S, horizon, act_dim) (or (m, B, S, ...) when model_index is a list
        of m models, model k scoring actions[k]) -> (B, S) or (m, B, S). Lower energy = likelier."""
        members, single = self._members(model_index)
        obs_n = self._norm_obs(obs_hist)
        act = check_chunk(actions, self.horizon, self.act_dim, lead=2 if single else 3)
        if single:
            act = act[None]
        if act.shape[0] != len(members) or act.shape[1] != len(obs_n):
            raise ValueError(f"actions {tuple(act.shape)} do not match {len(members)} models x "
                             f"{len(obs_n)} obs")
        act_n = act if normalized else self._norm_act(act)
        e = self._energy_fn(obs_n, members)(act_n)
        return e[0] if single else e

    def langevin_sample(self, obs_hist, n_samples: int, model_index: int | Sequence[int] = 0, *,
                        iterations: int | None = None, step_init: float | None = None,
                        step_final: float | None = None, step_power: float | None = None,
                        noise_scale: float | None = None, delta_clip: float | None = -1.0,
                        metropolis: bool = False, normalized: bool = False,
                        generator: torch.Generator | None = None) -> torch.Tensor:
        """Samples (B, S, horizon, act_dim) (or (m, B, S, ...) for a list of m models), each model's
        chains on its own energy, started uniform in the action box. Unset arguments take the
        policy's config (delta_clip=-1 means "config"; None disables the move clip)."""
        members, single = self._members(model_index)
        obs_n = self._norm_obs(obs_hist)
        cfg = self.config
        if delta_clip is not None and delta_clip < 0:
            delta_clip = cfg["delta_clip"]
        y = self._sample_n(obs_n, members, int(n_samples),
                           iterations=cfg["langevin_iterations"] if iterations is None else iterations,
                           step_init=cfg["step_init"] if step_init is None else step_init,
                           step_final=cfg["step_final"] if step_final is None else step_final,
                           step_power=cfg["step_power"] if step_power is None else step_power,
                           noise_scale=cfg["noise_scale"] if noise_scale is None else noise_scale,
                           delta_clip=delta_clip, metropolis=metropolis, generator=generator)
        out = y.reshape(*y.shape[:-1], self.horizon, self.act_dim) if normalized else self._unnorm_act(y)
        return out[0] if single else out

    def _sample_n(self, obs_n: torch.Tensor, members: list[int], n_samples: int, *, iterations: int,
                  step_init: float, step_final: float, step_power: float, noise_scale: float,
                  delta_clip: float | None, metropolis: bool,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalized samples (m, B, S, chunk_dim)."""
        lo, hi = self.action_bounds()
        B = obs_n.shape[-2]
        y = lo + (hi - lo) * torch.rand((len(members), B, n_samples, self.chunk_dim), generator=generator)
        clip = None if delta_clip is None else float(delta_clip) * float(hi[0] - lo[0]) / 2.0
        steps = step_schedule(int(iterations), step_init, step_final, step_power)
        return langevin(self._energy_fn(obs_n, members, detach_obs=True), y, lo, hi, steps, noise_scale,
                        clip, metropolis, generator)

    # ------------------------------------------------------------------------- acting
    @torch.no_grad()
    def predict_chunk(self, obs_hist: np.ndarray) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (B, horizon, act_dim): IBC inference with the acting model."""
        cfg = self.config
        obs_n = self._norm_obs(obs_hist)
        members = [int(cfg["policy_model"])]
        y = self._sample_n(obs_n, members, int(cfg["inference_counter_examples"]),
                           iterations=cfg["langevin_iterations"], step_init=cfg["step_init"],
                           step_final=cfg["step_final"], step_power=cfg["step_power"],
                           noise_scale=cfg["noise_scale"], delta_clip=cfg["delta_clip"], metropolis=False)
        e = self._energy_fn(obs_n, members)(y)[0]  # (B, S)
        if cfg["inference_select"] == "argmax":
            idx = e.argmin(-1)
        else:
            idx = torch.multinomial(torch.softmax(-e, -1), 1)[:, 0]
        best = y[0, torch.arange(len(idx)), idx]  # (B, chunk)
        return self._unnorm_act(best).numpy().astype(np.float32)

    # ----------------------------------------------------------------------- training
    def _member_losses(self, obs_n: torch.Tensor, act_n: torch.Tensor) -> torch.Tensor:
        """InfoNCE (+ gradient penalty) per member and sample: obs (m, B, obs_in), act (m, B, D) -> (m, B)."""
        cfg = self.config
        members = list(range(obs_n.shape[0]))
        lo, hi = self.action_bounds()
        m, B, D = act_n.shape
        k = int(cfg["train_counter_examples"])
        neg = lo + (hi - lo) * torch.rand((m, B, k, D))
        if cfg["counter_examples"] == "langevin":
            iters = cfg["train_langevin_iterations"] or cfg["langevin_iterations"]
            clip = None if cfg["delta_clip"] is None else cfg["delta_clip"] * float(hi[0] - lo[0]) / 2.0
            neg = langevin(self._energy_fn(obs_n.detach(), members, detach_obs=True), neg, lo, hi,
                           step_schedule(int(iters), cfg["step_init"], cfg["step_final"], cfg["step_power"]),
                           cfg["noise_scale"], clip)
        cand = torch.cat([act_n[:, :, None, :], neg], 2)
        if cfg["grad_penalty"]:
            cand = cand.detach().requires_grad_(True)
        e = self._energy_fn(obs_n, members)(cand)  # (m, B, k+1)
        loss = torch.logsumexp(-e, -1) + e[..., 0]  # cross-entropy with the data action as the label
        if cfg["grad_penalty"]:
            (de,) = torch.autograd.grad(e.sum(), cand, create_graph=True)
            linf = de[..., 1:, :].abs().amax(-1)
            loss = loss + cfg["grad_penalty_weight"] * torch.relu(linf - cfg["grad_margin"]).pow(2).sum(-1)
        return loss

    def _bootstrap_members(self) -> int:
        return self.n_models

    def _ensure_optimizer(self) -> torch.optim.Optimizer:
        if self._optimizer is None:
            cfg = self.config
            self._optimizer = torch.optim.Adam(self.parameters(), lr=cfg["lr"],
                                               weight_decay=cfg["weight_decay"])
            self._scheduler = torch.optim.lr_scheduler.StepLR(self._optimizer, int(cfg["lr_decay_steps"]),
                                                              cfg["lr_decay"])
        return self._optimizer

    def _after_train_step(self) -> None:
        self._scheduler.step()
        self.train_steps += 1
