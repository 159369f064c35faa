"""T2 targeted data (diffusion paper, Fig. 8 / Table III): lift-unseen autonomous success after 50/50
fine-tuning on the first N human steps selected by the uncertainty gate vs N steps of full demonstrations.

Per seed: the cached lift base policy is deployed on unseen objects with the ``denoising_vector`` gate
(threshold flagging ``target_rate`` of nominal states; the task YAML's gating) until the largest
budget of human steps is recorded; each budget keeps the first N human steps (later ones excluded
from training). Baseline: N steps of full expert demonstrations on unseen objects. Both are
fine-tuned with the 50/50 mix (half fine-tuning data, half pretraining demos per batch).
"""

from __future__ import annotations

import time
from pathlib import Path

from hitl_bringup.eval.base import paths_for
from hitl_bringup.eval.common import (
    autonomous,
    collect,
    first_steps,
    gate_config,
    load_base,
    make_env,
    make_expert,
    operator,
    setup_worker,
    summarize_by,
)
from hitl_bringup.eval.config import EvalConfig

TASK = "lift"
PAPER_T2 = {"base": 0.16, "uncertainty": 0.63, "full_demos": 0.44}  # Lift-real: +0.47 targeted vs +0.28 full


def job_t2(seed: int, cfg: EvalConfig, cache: str) -> dict:
    setup_worker()
    from hitl_core.data import SOURCE_HUMAN, EpisodeDataset
    from hitl_policy.learning.finetune import finetune

    from hitl_bringup.eval.common import calibrate
    from hitl_bringup.eval.t1 import make_gates, nominal_scores
    from hitl_bringup.rounds import cap_human_samples
    from hitl_bringup.sim_loop import deploy

    t0 = time.perf_counter()
    base = load_base(paths_for(TASK, cfg, Path(cache)))
    policy, demos = base["diffusion"], base["demos"]
    est = make_gates(base, seed, cfg, ("denoising_vector",))
    threshold = calibrate(nominal_scores(policy, est, TASK, cfg, 2000 + seed)["denoising_vector"], cfg.target_rate)
    eval_seed = 3000 + seed
    kw = {"arm": cfg.arm, "num_envs": cfg.num_envs, "sim": cfg.sim}
    base_success = autonomous(policy, TASK, "test", cfg.t2_eval_episodes, eval_seed, **kw).summary()["success_rate"]
    gate = gate_config(TASK, threshold, cfg.reaction_ticks, cfg.score_every)
    parts, human, batch = [], 0, 0
    need = max(cfg.t2_budgets)
    while human < need and batch * cfg.num_envs < cfg.t2_max_episodes:
        s = 4000 + seed * 100 + batch
        with make_env(TASK, cfg.arm, cfg.num_envs, "test", s, cfg.sim) as env:
            res = deploy(env, policy, cfg.num_envs, est["denoising_vector"], gate,
                         make_expert(TASK, seed=seed, sim=cfg.sim), seed=s, operator=operator(cfg.reaction_ticks, seed))
        parts.append(res.dataset)
        human += int((res.dataset.source == SOURCE_HUMAN).sum())
        batch += 1
    gated = EpisodeDataset.concatenate(parts)
    full = collect(TASK, cfg.arm, max(4, need // 40 + 2), 5000 + seed, variant="test", sim=cfg.sim)
    rows = []
    for budget in cfg.t2_budgets:
        data_u = cap_human_samples(gated, budget)
        n_u = int((data_u.source == SOURCE_HUMAN).sum())
        data_f = first_steps(full, n_u)
        row = {"table": "T2", "task": "lift-test", "seed": seed, "budget": budget, "human_steps": n_u,
               "base_success": base_success, "threshold": threshold}
        for name, data in (("uncertainty", data_u), ("full_demos", data_f)):
            if n_u == 0:
                row[f"{name}_success"] = base_success
                continue
            tuned, _ = finetune(policy, demos, [data], "mix", cfg.t2_finetune_steps, cfg.batch_size,
                                cfg.ft_lr_diffusion, seed=seed, progress=False)
            row[f"{name}_success"] = autonomous(tuned, TASK, "test", cfg.t2_eval_episodes, eval_seed,
                                                **kw).summary()["success_rate"]
        rows.append(row)
    return {"T2": rows, "seconds": {f"T2/{seed}": round(time.perf_counter() - t0, 1)}}


def summarize(rows: list[dict]) -> list[dict]:
    keys = ("human_steps", "base_success", "uncertainty_success", "full_demos_success")
    return summarize_by(rows, "budget", keys, dict.fromkeys(r["budget"] for r in rows))


def orderings(table: list[dict], check) -> None:
    for row in table:
        check(f"T2 budget {row['budget']}: uncertainty-selected steps beat full demos",
              row["uncertainty_success"]["mean"], row["full_demos_success"]["mean"], table="T2")
