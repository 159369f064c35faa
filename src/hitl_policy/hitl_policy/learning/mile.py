"""MILE: model-based intervention learning (Korkmaz & Bıyık).

Intervention model (probit), with pi_theta the policy (standing in for the human's policy) and
pi_hat_xi a learned mental model of what the robot does:

    p(nu=1 | s) = E_{a ~ pi_theta}[ Phi( E_{a' ~ pi_hat}[ln pi_theta(a|s) - ln pi_theta(a'|s)] - c ) ]

Training: J = lambda * BCE(p(nu=1|s), nu) + (1 - lambda) * NLL(a_h | s) on intervened steps;
BCE updates the policy and the mental model, NLL the policy only; lambda = 0.5. The mental model
(and c) are discarded at test time: only the policy is returned.

Continuous variant: needs ``policy.log_prob(obs_hist, act_chunk)`` (exact for
:class:`GaussianMLPPolicy` / Gaussian heads) and samples a ~ pi_theta (reparameterized where the
policy offers ``distribution``, else ``predict_chunk`` without a pathwise gradient). Expectations are
Monte-Carlo averages over ``n_samples`` draws. Discrete variant: exact sums over the action set
(:func:`discrete_intervention_prob`, :func:`discrete_mile_loss`).

Choices not fixed by the paper (documented in docs/learning.md): c is learnable by default
(initialised at ``c``; the paper tunes it by hand), and so is a positive scale on the log-likelihood
difference (Phi(scale * diff - c); the paper's scale is 1, but continuous log-densities of a sharp
policy differ by tens of nats and saturate the probit); the BCE is computed from log_ndtr so it
keeps a gradient when saturated; the mental model is warm-started by maximum likelihood on the
robot's recorded proposals (``robot_action``) before the joint training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hitl_core.data import EpisodeDataset
from torch import nn

from hitl_policy.learning.gaussian_policy import GaussianHead
from hitl_policy.learning.sampling import ROLE_HUMAN, ROLE_PRETRAIN, ROLE_ROBOT
from hitl_policy.learning.train_loop import train_loop
from hitl_policy.normalizer import Normalizer

EPS = 1e-6
PROBIT_BOUND = 30.0


def probit(x: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(0.0, 1.0).cdf(x)


# ------------------------------------------------------------------------------------------ discrete
def discrete_intervention_prob(policy_logits: torch.Tensor, mental_logits: torch.Tensor,
                               c: torch.Tensor | float) -> torch.Tensor:
    """(B, A) logits of pi_theta and pi_hat -> (B,) p(nu=1|s), exact sums over the A actions."""
    logp = policy_logits.log_softmax(-1)
    expected_robot = (mental_logits.softmax(-1) * logp).sum(-1, keepdim=True)  # E_{a'~pi_hat} ln pi(a')
    return (logp.exp() * probit(logp - expected_robot - c)).sum(-1)


def discrete_mile_loss(policy_logits: torch.Tensor, mental_logits: torch.Tensor, nu: torch.Tensor,
                       a_h: torch.Tensor, c: torch.Tensor | float, lam: float = 0.5,
                       form: str = "joint") -> torch.Tensor:
    """Scalar loss. form="joint": lambda*BCE(when) + (1-lambda)*NLL(what | nu=1);
    form="ce": the paper's discrete cross-entropy over {no intervention} + A actions, with
    p(a_h=a) = pi_theta(a|s) p(nu=1|s) and p(no intervention) = 1 - p(nu=1|s)."""
    nu = nu.float()
    p = discrete_intervention_prob(policy_logits, mental_logits, c).clamp(EPS, 1 - EPS)
    logp = policy_logits.log_softmax(-1)
    lp_h = logp.gather(-1, a_h.long().clamp(min=0)[:, None])[:, 0]
    if form == "ce":
        return -(nu * (lp_h + p.log()) + (1 - nu) * (1 - p).log()).mean()
    if form != "joint":
        raise ValueError(f"unknown discrete MILE loss form {form!r}: expected 'joint' or 'ce'")
    bce = nn.functional.binary_cross_entropy(p, nu)
    nll = -(lp_h * nu).sum() / nu.sum().clamp(min=1.0)
    return lam * bce + (1 - lam) * nll


# ---------------------------------------------------------------------------------------- continuous
class MentalModel(nn.Module):
    """pi_hat_xi: Gaussian over the robot's raw action chunk given the observation history."""

    def __init__(self, n_obs: int, obs_dim: int, horizon: int, act_dim: int, hidden: tuple[int, ...],
                 obs_norm: Normalizer, act_norm: Normalizer) -> None:
        super().__init__()
        self.head = GaussianHead(n_obs * obs_dim, horizon * act_dim, hidden)
        self.shape = (horizon, act_dim)
        self.obs_norm, self.act_norm = obs_norm, act_norm

    def dist(self, obs_hist: torch.Tensor) -> torch.distributions.Normal:
        return self.head(self.obs_norm.normalize(obs_hist.float()).reshape(len(obs_hist), -1))

    def rsample(self, obs_hist: torch.Tensor, n: int) -> torch.Tensor:
        """(n, B, horizon, act_dim) raw, reparameterized."""
        z = self.dist(obs_hist).rsample((n,))
        return self.act_norm.unnormalize(z.reshape(n, len(obs_hist), *self.shape))

    def log_prob(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        z = self.act_norm.normalize(act_chunk.float()).reshape(len(act_chunk), -1)
        return self.dist(obs_hist).log_prob(z).sum(-1)


def policy_samples(policy, obs_hist: torch.Tensor, n: int) -> torch.Tensor:
    """(n, B, horizon, act_dim) raw samples a ~ pi_theta; pathwise-differentiable when possible."""
    if hasattr(policy, "distribution") and hasattr(policy, "act_norm"):
        z = policy.distribution(obs_hist).rsample((n,))
        return policy.act_norm.unnormalize(z.reshape(n, len(obs_hist), policy.horizon, policy.act_dim))
    with torch.no_grad():
        rep = obs_hist.repeat(n, 1, 1).numpy()
        out = np.asarray(policy.predict_chunk(rep), np.float32)
    return torch.from_numpy(out).reshape(n, len(obs_hist), policy.horizon, policy.act_dim)


def batched_log_prob(policy, obs_hist: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """log pi_theta for (n, B, H, A) action samples -> (n, B)."""
    n, b = acts.shape[:2]
    o = obs_hist.unsqueeze(0).expand(n, *obs_hist.shape).reshape(n * b, *obs_hist.shape[1:])
    return policy.log_prob(o, acts.reshape(n * b, *acts.shape[2:])).reshape(n, b)


def probit_arguments(policy, mental: MentalModel, obs_hist: torch.Tensor, c: torch.Tensor | float,
                     scale: torch.Tensor | float = 1.0, n_samples: int = 8) -> torch.Tensor:
    """(n, B) x_k = scale * (ln pi(a_k) - E_{a'~pi_hat} ln pi(a')) - c for a_k ~ pi_theta."""
    a = policy_samples(policy, obs_hist, n_samples)           # a ~ pi_theta
    a_robot = mental.rsample(obs_hist, n_samples)              # a' ~ pi_hat
    lp_a = batched_log_prob(policy, obs_hist, a)               # (n, B)
    lp_robot = batched_log_prob(policy, obs_hist, a_robot).mean(0)  # E_{a'} ln pi(a')
    x = scale * (lp_a - lp_robot[None]) - c
    # Log-compress beyond |x| ~ 30 (identity-like below): sharp policies produce differences of 1e6
    # nats whose squared BCE tails overflow, and a hard bound (clamp, tanh) would leave no gradient.
    return torch.sign(x) * PROBIT_BOUND * torch.log1p(x.abs() / PROBIT_BOUND)


def log_intervention_probs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ln p(nu=1|s), ln p(nu=0|s) from probit arguments (n, B), computed stably (log_ndtr), so
    the BCE keeps its gradient where the probit saturates."""
    log_n = float(np.log(x.shape[0]))
    return (torch.logsumexp(torch.special.log_ndtr(x), 0) - log_n,
            torch.logsumexp(torch.special.log_ndtr(-x), 0) - log_n)


def continuous_intervention_prob(policy, mental: MentalModel, obs_hist: torch.Tensor,
                                 c: torch.Tensor | float, n_samples: int = 8,
                                 scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """(B,) Monte-Carlo p(nu=1|s) of the probit model (see module docstring)."""
    return probit(probit_arguments(policy, mental, obs_hist, c, scale, n_samples)).mean(0)


class _MentalAsPolicy:
    """The mental model seen through the training loop's policy interface (for its warm-up)."""

    def __init__(self, mental: MentalModel, n_obs: int, horizon: int) -> None:
        self.mental, self.n_obs, self.horizon = mental, n_obs, horizon

    def parameters(self):
        return self.mental.parameters()

    def training_loss(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        return -self.mental.log_prob(obs_hist, act_chunk)


@dataclass
class MileConfig:
    lam: float = 0.5
    c: float = 0.0
    learn_c: bool = True
    learn_scale: bool = True
    c_lr: float = 0.05
    n_samples: int = 8
    mental_hidden: tuple[int, ...] = (128, 128)
    mental_warmup_steps: int = 300
    lr: float = 1e-3


class MILE:
    """Joint trainer of a likelihood policy and a mental model over an aggregated dataset with roles."""

    def __init__(self, policy, dataset: EpisodeDataset, roles: np.ndarray, config: MileConfig | None = None,
                 seed: int = 0) -> None:
        if not hasattr(policy, "log_prob"):
            kind = getattr(policy, "kind", type(policy).__name__)
            raise TypeError(f"MILE needs action likelihoods: a {kind!r} policy has no log_prob "
                            "(use a Gaussian policy, e.g. kind 'gaussian' or 'ensemble')")
        self.policy, self.data, self.roles = policy, dataset, np.asarray(roles)
        self.cfg = config or MileConfig()
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        obs_norm = (getattr(policy, "obs_norm", None) or getattr(policy, "obs_normalizer", None)
                    or Normalizer.fit(dataset.obs))
        act_norm = (getattr(policy, "act_norm", None) or getattr(policy, "act_normalizer", None)
                    or Normalizer.fit(dataset.action))
        self.mental = MentalModel(policy.n_obs, policy.obs_dim, policy.horizon, policy.act_dim,
                                  tuple(self.cfg.mental_hidden), obs_norm, act_norm)
        self.c = nn.Parameter(torch.tensor(float(self.cfg.c)), requires_grad=self.cfg.learn_c)
        # initial scale 1/D: the log-likelihood difference per action dimension (D = horizon * act_dim)
        d = policy.horizon * policy.act_dim
        self.log_scale = nn.Parameter(torch.tensor(-float(np.log(d)) if self.cfg.learn_scale else 0.0),
                                      requires_grad=self.cfg.learn_scale)
        n = dataset.n_steps
        self.nu = torch.from_numpy((self.roles == ROLE_HUMAN).astype(np.float32))
        self.when_mask = torch.from_numpy(np.isin(self.roles, (ROLE_HUMAN, ROLE_ROBOT)).astype(np.float32))
        self.what_mask = torch.from_numpy(np.isin(self.roles, (ROLE_HUMAN, ROLE_PRETRAIN)).astype(np.float32))
        # What the robot proposed at each step (its recorded proposal, else its executed action).
        robot = dataset.robot_action.copy()
        missing = np.isnan(robot).any(1)
        robot[missing] = dataset.action[missing]
        self.robot_known = np.flatnonzero(~missing | (self.roles == ROLE_ROBOT))
        self._robot_actions = robot
        self.usable = np.flatnonzero(np.isin(self.roles, (ROLE_HUMAN, ROLE_ROBOT, ROLE_PRETRAIN)))
        if n == 0 or len(self.usable) == 0:
            raise ValueError("MILE: no usable steps in the dataset")

    # ---------------------------------------------------------------- model
    def intervention_prob(self, obs_hist: np.ndarray | torch.Tensor,
                          n_samples: int | None = None) -> np.ndarray:
        """(B,) predicted p(nu=1|s) for raw observation histories (B, n_obs, obs_dim)."""
        o = torch.as_tensor(np.asarray(obs_hist, np.float32))
        with torch.no_grad():
            return continuous_intervention_prob(self.policy, self.mental, o, self.c,
                                                n_samples or self.cfg.n_samples,
                                                self.log_scale.exp()).numpy()

    def loss_terms(self, obs: torch.Tensor, act: torch.Tensor, idx: np.ndarray) -> dict[str, torch.Tensor]:
        i = torch.as_tensor(idx, dtype=torch.long)
        nu, when, what = self.nu[i], self.when_mask[i], self.what_mask[i]
        x = probit_arguments(self.policy, self.mental, obs, self.c, self.log_scale.exp(), self.cfg.n_samples)
        log_p1, log_p0 = log_intervention_probs(x)
        bce = -(nu * log_p1 + (1 - nu) * log_p0)
        bce = (bce * when).sum() / when.sum().clamp(min=1.0)
        nll = -self.policy.log_prob(obs, act) / (self.policy.horizon * self.policy.act_dim)
        nll = (nll * what).sum() / what.sum().clamp(min=1.0)
        return {"bce": bce, "nll": nll, "loss": self.cfg.lam * bce + (1 - self.cfg.lam) * nll}

    # ------------------------------------------------------------- training
    def warmup_mental(self, steps: int, batch_size: int, progress: bool) -> list[float]:
        """Maximum likelihood of the robot's proposals under the mental model."""
        robot_ds = EpisodeDataset(obs=self.data.obs, action=self._robot_actions, current=self.data.current,
                                  episode_ends=self.data.episode_ends)
        known = self.robot_known

        if len(known) == 0 or steps <= 0:
            return []
        return train_loop(_MentalAsPolicy(self.mental, self.policy.n_obs, self.policy.horizon), robot_ds,
                          lambda: known[self.rng.integers(0, len(known), batch_size)], steps,
                          lr=self.cfg.lr, progress=progress, desc="MILE mental model")

    def fit(self, steps: int, batch_size: int = 128, progress: bool = True) -> dict:
        warm = self.warmup_mental(self.cfg.mental_warmup_steps, batch_size, progress)
        terms_log: list[dict[str, float]] = []

        def loss_fn(o, a, idx):
            t = self.loss_terms(o, a, idx)
            terms_log.append({k: float(v.detach()) for k, v in t.items()})
            return t["loss"][None]

        usable = self.usable
        losses = train_loop(self.policy, self.data,
                            lambda: usable[self.rng.integers(0, len(usable), batch_size)], steps,
                            lr=self.cfg.lr, progress=progress, desc="MILE joint",
                            loss_fn=loss_fn, extra_params=[
                                *self.mental.parameters(),
                                {"params": [self.c, self.log_scale], "lr": self.cfg.c_lr,
                                 "weight_decay": 0.0}])
        k = max(1, min(20, len(terms_log) // 5))
        first = {f"{n}_first": float(np.mean([t[n] for t in terms_log[:k]])) for n in ("bce", "nll", "loss")}
        last = {f"{n}_last": float(np.mean([t[n] for t in terms_log[-k:]])) for n in ("bce", "nll", "loss")}
        return {"steps": steps, "mental_warmup_loss_last": float(np.mean(warm[-20:])) if warm else None,
                "c": float(self.c.detach()), "scale": float(self.log_scale.detach().exp()),
                **first, **last, "losses": losses}
