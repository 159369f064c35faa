"""Fine-tune a policy from recorded interventions with one of the methods of :mod:`.sampling` or MILE.

``finetune(base, pretrain, rounds, method, steps)`` copies the base policy, aggregates the
pretraining demos and every round into one dataset with per-step roles, and trains with exact
stratified batches through ``policy.training_loss`` (``engine="loop"``, the default) or through the
policy's own ``fit(sample_weights=...)`` (``engine="fit"``: the composition then holds in
expectation only, and the policy's own optimizer/EMA machinery is used).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
from hitl_core.data import EpisodeDataset

from hitl_policy.learning.mile import MILE, MileConfig
from hitl_policy.learning.sampling import (
    METHODS,
    ROLE_HUMAN,
    ROLE_PAUSED,
    ROLE_PRETRAIN,
    ROLE_ROBOT,
    StratifiedBatchSampler,
    make_plan,
    step_roles,
)
from hitl_policy.learning.train_loop import train_loop

ENGINES = ("loop", "fit")


def aggregate(pretrain: EpisodeDataset | None,
              rounds: list[EpisodeDataset]) -> tuple[EpisodeDataset, np.ndarray]:
    """One dataset (pretraining demos first, then the rounds in order) and the role of each step."""
    parts = ([pretrain] if pretrain is not None else []) + list(rounds)
    if not parts or all(p.n_steps == 0 for p in parts):
        raise ValueError("no data to fine-tune on (no pretraining data and no rounds)")
    dims = {(p.obs_dim, p.act_dim) for p in parts if p.n_steps}
    if len(dims) > 1:
        raise ValueError(f"datasets disagree on (obs_dim, act_dim): {sorted(dims)}")
    agg = EpisodeDataset.concatenate(parts)
    n_pre = pretrain.n_steps if pretrain is not None else 0
    return agg, step_roles(n_pre, agg)


def load_any_policy(path: str | Path):
    """Any checkpoint of the registry, plus this package's Gaussian MLP policy."""
    from hitl_policy.checkpoint import load_checkpoint

    kind = load_checkpoint(path)["kind"]
    if kind == "gaussian":
        from hitl_policy.learning.gaussian_policy import GaussianMLPPolicy

        return GaussianMLPPolicy.load(path)
    from hitl_policy.registry import load_policy

    return load_policy(path)


def role_counts(roles: np.ndarray) -> dict[str, int]:
    names = {ROLE_PRETRAIN: "pretrain", ROLE_HUMAN: "human", ROLE_ROBOT: "robot", ROLE_PAUSED: "paused"}
    return {n: int((roles == r).sum()) for r, n in names.items()}


def finetune(base_policy, pretrain: EpisodeDataset | None, rounds: list[EpisodeDataset], method: str,
             steps: int, batch_size: int = 64, lr: float = 1e-4, seed: int = 0, progress: bool = True,
             engine: str = "loop", mile_config: MileConfig | None = None, in_place: bool = False):
    """Returns (fine-tuned policy, summary dict). The base policy is left untouched unless in_place.

    The training noise that models draw from torch's global generator (a diffusion policy's noise and
    timesteps) comes from ``seed`` too: the same call gives the same policy whatever ran before it in
    the process (the evaluation's methods share one process), and the caller's generator is left as it was.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _finetune(base_policy, pretrain, rounds, method, steps, batch_size, lr, seed, progress, engine,
                         mile_config, in_place)


def _finetune(base_policy, pretrain: EpisodeDataset | None, rounds: list[EpisodeDataset], method: str,
              steps: int, batch_size: int, lr: float, seed: int, progress: bool, engine: str,
              mile_config: MileConfig | None, in_place: bool):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {list(METHODS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {list(ENGINES)}")
    if steps < 1 or batch_size < 2:
        raise ValueError("steps must be >= 1 and batch_size >= 2")
    policy = base_policy if in_place else copy.deepcopy(base_policy)
    data, roles = aggregate(pretrain, rounds)
    t0 = time.perf_counter()
    summary: dict = {"method": method, "engine": engine, "steps": steps, "batch_size": batch_size, "lr": lr,
                     "steps_by_role": role_counts(roles), "episodes": data.n_episodes}
    if method == "mile":
        cfg = mile_config or MileConfig(lr=lr)
        stats = MILE(policy, data, roles, cfg, seed=seed).fit(steps, batch_size, progress)
        losses = stats.pop("losses")
        summary.update({"mile": stats, "groups": {"all": int(np.isin(roles, (0, 1, 2)).sum())},
                        "batch_fractions": {"all": 1.0}})
    else:
        plan = make_plan(method, roles)
        summary["groups"] = plan.counts()
        if engine == "fit":
            stats = policy.fit(data, steps, batch_size=batch_size, progress=progress,
                               sample_weights=plan.step_weights(data.n_steps))
            losses = stats.get("losses") or [float(stats.get("loss_first", stats.get("first_loss", np.nan))),
                                             float(stats.get("loss_last", stats.get("final_loss", np.nan)))]
            w = plan.step_weights(data.n_steps)
            summary["batch_fractions"] = {n: float(w[g].sum()) for n, g in zip(plan.names, plan.groups)}
        else:
            sampler = StratifiedBatchSampler(plan, batch_size, seed)
            losses = train_loop(policy, data, sampler.sample, steps, lr=lr, progress=progress,
                                desc=f"finetune {method}")
            summary["batch_fractions"] = {n: k / batch_size for n, k in zip(plan.names, sampler.sizes)}
    if hasattr(policy, "add_reference"):
        # states a human has now demonstrated are no longer out of distribution for this policy: without
        # this, a fine-tuned diffusion policy keeps asking for help exactly where it was taught
        policy.add_reference(data, steps=roles == ROLE_HUMAN)
        summary["ood_reference_added"] = int((roles == ROLE_HUMAN).sum())
    k = max(1, min(50, len(losses) // 5))
    summary.update({"loss_first": float(np.mean(losses[:k])), "loss_last": float(np.mean(losses[-k:])),
                    "seconds": round(time.perf_counter() - t0, 2)})
    return policy, summary
