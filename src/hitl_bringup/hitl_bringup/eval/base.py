"""The base models T1, T2, T5 and the AUROC share: trained once per task, cached on disk for the jobs.

Per task: expert demos of the train variant, the diffusion policy that acts, and the two models
behind the baseline gates (a Gaussian ensemble for ensemble variance, an EBM for Jeffreys
divergence), all on the same demos with training seed ``cfg.policy_seed``. The cache key holds
every setting that changes them, so a changed config never reuses a stale model.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from hitl_bringup.eval.common import base_paths, cache_key, collect, setup_worker
from hitl_bringup.eval.config import EvalConfig

KINDS = ("diffusion", "ensemble", "ebm")


def base_key(task: str, cfg: EvalConfig) -> str:
    c = asdict(cfg)
    return cache_key(task=task, sim=cfg.sim, arm=cfg.arm, **{k: c[k] for k in (
        "t1_demos", "diffusion", "policy_seed", "diffusion_steps", "diffusion_batch", "ensemble_steps", "ebm",
        "ebm_steps", "ebm_batch")})


def paths_for(task: str, cfg: EvalConfig, cache: Path) -> dict[str, Path]:
    return base_paths(cache, task, base_key(task, cfg))


def job_base(task: str, cfg: EvalConfig, cache: str) -> dict:
    """Train (or find in the cache) the demos and the three models of ``task``."""
    setup_worker()
    from hitl_policy.registry import make_policy

    t0 = time.perf_counter()
    paths = paths_for(task, cfg, Path(cache))
    paths["demos"].parent.mkdir(parents=True, exist_ok=True)
    if all(p.exists() for p in paths.values()):
        return {"seconds": {f"base/{task}": 0.0}, "base": [{"task": task, "reused": True}]}
    ps = cfg.policy_seed
    demos = collect(task, cfg.arm, cfg.t1_demos, ps, sim=cfg.sim)
    policy = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=ps, **cfg.diffusion)
    policy.fit(demos, cfg.diffusion_steps, cfg.diffusion_batch, progress=False)
    ens = make_policy("ensemble", demos.obs_dim, demos.act_dim, seed=ps, n_obs=policy.n_obs,
                      horizon=policy.horizon, n_action=policy.n_action)
    ens.fit(demos, cfg.ensemble_steps, cfg.diffusion_batch, progress=False)
    ebm = make_policy("ebm", demos.obs_dim, demos.act_dim, seed=ps, **cfg.ebm)
    ebm.fit(demos, cfg.ebm_steps, cfg.ebm_batch, progress=False)
    demos.save(paths["demos"])
    for kind, model in (("diffusion", policy), ("ensemble", ens), ("ebm", ebm)):
        model.save(paths[kind])
    seconds = round(time.perf_counter() - t0, 1)
    return {"seconds": {f"base/{task}": seconds},
            "base": [{"task": task, "reused": False, "demo_steps": int(demos.n_steps), "seconds": seconds}]}
