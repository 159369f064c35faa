"""T4 MILE (MILE, Fig. 3): MILE vs HG-DAgger vs IWR vs BC-intervention from a weak policy.

Per (task, seed): a weak Gaussian MLP policy (MILE needs action likelihoods) from ``t4_demos`` demos;
``t4_episodes`` episodes of it with a simulated human who steps in when the robot's next target is
off the expert's (``ExpertDeviationGate``; threshold: the deviation flagging ``t4_flag_rate`` of the
weak policy's own states, never below one tolerance, MILE's way of keeping interventions under 30 %;
the task YAML's release rule); every method fine-tunes the weak policy on those episodes only.
Tasks: kinematic lift; MuJoCo: Metaworld drawer_open, peg_insert, button_press (MILE's).
"""

from __future__ import annotations

import time

import numpy as np

from hitl_bringup.eval.common import (
    autonomous,
    calibrate,
    collect,
    gate_config,
    make_env,
    make_expert,
    mean_std,
    operator,
    setup_worker,
)
from hitl_bringup.eval.config import T4_METHODS, EvalConfig


def weak_policy(obs_dim: int, act_dim: int, cfg: EvalConfig, seed: int):
    from hitl_policy.learning.gaussian_policy import GaussianMLPPolicy

    g = dict(cfg.gauss)
    return GaussianMLPPolicy.create(obs_dim, act_dim, n_obs=g["n_obs"], horizon=g["horizon"], n_action=g["n_action"],
                                    hidden=tuple(g["hidden"]), lr=cfg.gauss_lr, seed=seed)


def task_arm(task: str, cfg: EvalConfig) -> str:
    from hitl_bringup.sim_backend import arm_for

    return arm_for(task, cfg.arm, cfg.sim)  # Metaworld's tasks run on its own Sawyer


def weak_demos(task: str, seed: int, cfg: EvalConfig):
    """The demos T4's weak policy of ``task`` and ``seed`` learns from (also bench/base_steps.py's)."""
    return collect(task, task_arm(task, cfg), cfg.t4_demos, 7000 + seed, sim=cfg.sim)


def train_weak(demos, task: str, seed: int, cfg: EvalConfig, steps: int | None = None):
    """T4's weak policy (``steps``: default ``cfg.t4_steps_for(task)``)."""
    weak = weak_policy(demos.obs_dim, demos.act_dim, cfg, seed)
    weak.fit(demos, cfg.t4_steps_for(task) if steps is None else steps, cfg.gauss_batch, progress=False)
    return weak


def job_t4(task: str, seed: int, cfg: EvalConfig) -> dict:
    setup_worker()
    from hitl_core.data import SOURCE_HUMAN
    from hitl_policy.learning.finetune import finetune

    from hitl_bringup.sim_loop import ExpertDeviationGate, GateConfig, deploy

    t0 = time.perf_counter()
    arm = task_arm(task, cfg)
    demos = weak_demos(task, seed, cfg)
    weak = train_weak(demos, task, seed, cfg)
    eval_seed = 8000 + seed
    expert = make_expert(task, seed=seed, sim=cfg.sim)
    with make_env(task, arm, min(cfg.num_envs, cfg.t4_eval_episodes), "train", eval_seed, cfg.sim) as env:
        nominal = deploy(env, weak, cfg.t4_eval_episodes, ExpertDeviationGate(expert, env.n_arms),
                         GateConfig(threshold=np.inf), expert, seed=eval_seed,
                         operator=operator(cfg.reaction_ticks, seed))
    weak_success = nominal.summary()["success_rate"]
    scores = nominal.scores[np.isfinite(nominal.scores)]
    threshold = max(cfg.expert_gate, calibrate(scores, cfg.t4_flag_rate))
    with make_env(task, arm, min(cfg.num_envs, cfg.t4_episodes), "train", 9000 + seed, cfg.sim) as env:
        res = deploy(env, weak, cfg.t4_episodes, ExpertDeviationGate(expert, env.n_arms),
                     gate_config(task, threshold, cfg.reaction_ticks, 1), expert, seed=9000 + seed,
                     operator=operator(cfg.reaction_ticks, seed))
    data = res.dataset
    rows = []
    for method in T4_METHODS:
        tuned, summary = finetune(weak, None, [data], method, cfg.t4_finetune_steps, cfg.batch_size, cfg.ft_lr_gauss,
                                  seed=seed, progress=False)
        succ = autonomous(tuned, task, "train", cfg.t4_eval_episodes, eval_seed, arm=arm, num_envs=cfg.num_envs,
                          sim=cfg.sim).summary()["success_rate"]
        row = {"table": "T4", "task": task, "arm": arm, "method": method, "seed": seed, "success": succ,
               "weak_success": weak_success, "episodes": len(res.episodes),
               "intervention_ratio": float(np.mean(data.source == SOURCE_HUMAN)),
               "assisted_success": res.summary()["success_rate"], "gate_threshold": float(threshold)}
        if method == "mile":
            row.update(mile_c=summary["mile"]["c"], mile_bce_last=summary["mile"]["bce_last"])
        rows.append(row)
    return {"T4": rows, "seconds": {f"T4/{task}/{seed}": round(time.perf_counter() - t0, 1)}}


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for task in dict.fromkeys(r.get("task", "lift") for r in rows):
        for m in T4_METHODS:
            sel = [r for r in rows if r.get("task", "lift") == task and r["method"] == m]
            if sel:
                out.append({"task": task, "method": m,
                            **{f: mean_std([r[f] for r in sel]) for f in ("success", "weak_success",
                                                                          "intervention_ratio")},
                            "per_seed": {str(r["seed"]): r["success"] for r in sel}})
    return out


def orderings(table: list[dict], check) -> None:
    for task in dict.fromkeys(r["task"] for r in table):
        by = {r["method"]: r["success"]["mean"] for r in table if r["task"] == task}
        for other in ("hg-dagger", "iwr", "bc-intervention"):
            check(f"T4 {task}: MILE beats {other}", by.get("mile"), by.get(other), table="T4")
