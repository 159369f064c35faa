"""T5 the sampling radius (diffusion paper, Table IV): the paper recipe's radius r on lift-unseen.

Per (seed, r): the paper's literal denoising-vector estimator (``denoising_vector_paper``: points in
a ball of radius r raw action units, k = 0) on the cached lift base policy, calibrated to flag
``target_rate`` of nominal states, gates ``t5_episodes`` unseen-object episodes (the task YAML's
gating); the human steps recorded there fine-tune the policy (50/50 mix with the pretraining demos),
and the fine-tuned policy's autonomous success on unseen objects is measured. Reported per r: human
steps per episode (the paper's "# of fine-tuning steps") and success after fine-tuning.
"""

from __future__ import annotations

import time
from pathlib import Path

from hitl_bringup.eval.base import paths_for
from hitl_bringup.eval.common import (
    autonomous,
    calibrate,
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
PAPER_T5 = {0.01: {"human_steps": 60.3, "success": 0.46}, 0.03: {"human_steps": 31.6, "success": 0.55},
            0.05: {"human_steps": 20.0, "success": 0.63}, 0.1: {"human_steps": 46.3, "success": 0.53}}


def job_t5(seed: int, cfg: EvalConfig, cache: str) -> dict:
    setup_worker()
    from hitl_core.data import SOURCE_HUMAN
    from hitl_policy.learning.finetune import finetune
    from hitl_policy.registry import make_estimator

    from hitl_bringup.eval.t1 import nominal_scores
    from hitl_bringup.sim_loop import deploy

    t0 = time.perf_counter()
    base = load_base(paths_for(TASK, cfg, Path(cache)))
    policy, demos = base["diffusion"], base["demos"]
    ests = {r: make_estimator("denoising_vector_paper", policy, radius=r, seed=seed) for r in cfg.t5_radii}
    calib = nominal_scores(policy, ests, TASK, cfg, 2000 + seed)
    eval_seed, dep_seed = 3000 + seed, 11_000 + seed
    rows = []
    for r, est in ests.items():
        thr = calibrate(calib[r], cfg.target_rate)
        gate = gate_config(TASK, thr, cfg.reaction_ticks, cfg.score_every)
        with make_env(TASK, cfg.arm, min(cfg.num_envs, cfg.t5_episodes), "test", dep_seed, cfg.sim) as env:
            res = deploy(env, policy, cfg.t5_episodes, est, gate, make_expert(TASK, seed=seed, sim=cfg.sim),
                         seed=dep_seed, operator=operator(cfg.reaction_ticks, seed))
        s = res.summary()
        n_human = int((res.dataset.source == SOURCE_HUMAN).sum())
        if n_human:
            tuned, _ = finetune(policy, demos, [res.dataset], "mix", cfg.t5_finetune_steps, cfg.batch_size,
                                cfg.ft_lr_diffusion, seed=seed, progress=False)
            success = autonomous(tuned, TASK, "test", cfg.t5_eval_episodes, eval_seed, arm=cfg.arm,
                                 num_envs=cfg.num_envs, sim=cfg.sim).summary()["success_rate"]
        else:  # no human step to learn from: the base policy's success
            success = autonomous(policy, TASK, "test", cfg.t5_eval_episodes, eval_seed, arm=cfg.arm,
                                 num_envs=cfg.num_envs, sim=cfg.sim).summary()["success_rate"]
        rows.append({"table": "T5", "task": "lift-test", "radius": r, "seed": seed, "threshold": thr,
                     "human_steps": s["human_steps"], "assisted_success": s["success_rate"],
                     "human_samples": n_human, "success": success})
    return {"T5": rows, "seconds": {f"T5/{seed}": round(time.perf_counter() - t0, 1)}}


def summarize(rows: list[dict]) -> list[dict]:
    keys = ("human_steps", "assisted_success", "success")
    return summarize_by(rows, "radius", keys, sorted({x["radius"] for x in rows}))


def orderings(table: list[dict], check) -> None:
    """The paper: r = 0.05 has the best success after fine-tuning and the fewest human steps."""
    by = {r["radius"]: r for r in table}
    if 0.05 not in by:
        return
    best = by[0.05]
    for r, row in by.items():
        if r == 0.05:
            continue
        check(f"T5 r=0.05 vs r={r:g}: higher success after fine-tuning", best["success"]["mean"],
              row["success"]["mean"], table="T5")
        check(f"T5 r=0.05 vs r={r:g}: fewer human steps", best["human_steps"]["mean"], row["human_steps"]["mean"],
              lower_is_better=True, table="T5")
