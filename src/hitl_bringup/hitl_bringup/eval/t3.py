"""T3 learning from interventions (IWR, Table I): IWR vs IWR-NB vs HG-DAgger vs full demos at equal human samples.

Per seed: a diffusion base policy from ``t3_demos`` demos of the bottleneck task (kinematic:
threading; MuJoCo: square), then ``t3_rounds`` rounds per method (``rounds.run_rounds``: episodes
until the human samples reach a third of the base data; the simulated human steps in when the robot's
next target is more than one tolerance off the expert's, ``ExpertDeviationGate``; the task YAML's
release rule), each fine-tuned from the previous with ``finetune()``. Round 0's evaluation and round 1's
deployment are the same for every method (``rounds.start_rounds``) and run once per seed. Full demos: as many new demo
samples as IWR's human samples over the rounds, ``bc`` for rounds x steps.
"""

from __future__ import annotations

import copy
import math
import time

from hitl_bringup.eval.common import collect, first_steps, mean_std, setup_worker
from hitl_bringup.eval.config import T3_METHODS, EvalConfig

PAPER_T3 = {"iwr": 0.873, "hg-dagger": 0.753, "iwr-nb": 0.747, "full-demos": 0.767}  # Threading, success


def base_demos(seed: int, cfg: EvalConfig):
    """The demos T3's base policy of ``seed`` learns from (also bench/base_steps.py's)."""
    return collect(cfg.t3_task, cfg.arm, cfg.t3_demos, seed, sim=cfg.sim)


def train_base(demos, seed: int, cfg: EvalConfig, steps: int | None = None):
    """T3's base diffusion policy (``steps``: default ``cfg.t3_base_steps``)."""
    from hitl_policy.registry import make_policy

    base = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=seed, **cfg.diffusion)
    base.fit(demos, cfg.t3_base_steps if steps is None else steps, cfg.diffusion_batch, progress=False)
    return base


def job_t3(seed: int, cfg: EvalConfig) -> dict:
    setup_worker()
    from hitl_policy.learning.finetune import finetune

    from hitl_bringup.rounds import RoundsConfig, autonomous_success, eval_seed, run_rounds, start_rounds

    t0 = time.perf_counter()
    task = cfg.t3_task
    demos = base_demos(seed, cfg)
    base = train_base(demos, seed, cfg)
    per_round = max(1, round(cfg.t3_round_fraction * demos.n_steps))
    rows = []
    start = None  # round 0's evaluation and round 1's deployment do not depend on the method: run once
    for method in T3_METHODS:
        rc = RoundsConfig(task=task, method=method, arm=cfg.arm, rounds=cfg.t3_rounds,
                          human_samples_per_round=per_round, episodes_per_round=cfg.num_envs,
                          max_episodes_per_round=cfg.t3_max_episodes, num_envs=cfg.num_envs,
                          finetune_steps=cfg.t3_finetune_steps, batch_size=cfg.batch_size, lr=cfg.ft_lr_diffusion,
                          eval_episodes=cfg.t3_eval_episodes, evaluate_every_round=cfg.t3_eval_every_round,
                          reaction_ticks=cfg.reaction_ticks,
                          expert_gate=cfg.expert_gate, seed=seed, sim=cfg.sim)
        start = start or start_rounds(copy.deepcopy(base), rc, progress=False)
        _, rr = run_rounds(None, demos, rc, progress=False, log=lambda m: None, start=start)
        rows += [{"table": "T3", "task": task, "method": method, "seed": seed, **r} for r in rr]
    total = max(r["human_samples_total"] for r in rows if r["method"] == "iwr")
    # enough new demos for the IWR rounds' human samples (their mean length says how many), plus two
    n_extra = math.ceil(total / (demos.n_steps / demos.n_episodes)) + 2
    extra = first_steps(collect(task, cfg.arm, n_extra, 6000 + seed, sim=cfg.sim), max(1, total))
    tuned, _ = finetune(base, demos, [extra], "bc", cfg.t3_finetune_steps * cfg.t3_rounds, cfg.batch_size,
                        cfg.ft_lr_diffusion, seed=seed, progress=False)
    succ = autonomous_success(tuned, task, cfg.arm, "train", cfg.t3_eval_episodes, cfg.num_envs, eval_seed(rc),
                              cfg.sim)  # the rounds' evaluation episodes
    rows.append({"table": "T3", "task": task, "method": "full-demos", "seed": seed, "round": cfg.t3_rounds,
                 "success": succ, "human_samples": int(extra.n_steps), "human_samples_total": int(extra.n_steps),
                 "episodes": int(extra.n_episodes)})
    return {"T3": rows, "seconds": {f"T3/{seed}": round(time.perf_counter() - t0, 1)},
            "T3_meta": {"seed": seed, "policy": base.kind, "base_steps": int(demos.n_steps),
                        "human_samples_per_round": per_round}}


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for m in (*T3_METHODS, "full-demos"):
        for k in sorted({r["round"] for r in rows if r["method"] == m}):
            sel = [r for r in rows if r["method"] == m and r["round"] == k]
            out.append({"method": m, "round": k,
                        **{f: mean_std([r[f] for r in sel]) for f in ("success", "human_samples_total")},
                        "per_seed": {str(r["seed"]): r["success"] for r in sel}})
    return out


def orderings(table: list[dict], rounds: int, task: str, check) -> None:
    def get(method: str) -> float | None:
        return next((r["success"]["mean"] for r in table if r["method"] == method and r["round"] == rounds), None)

    for other in ("hg-dagger", "iwr-nb", "full-demos"):
        check(f"T3 {task} round {rounds}: IWR beats {other}", get("iwr"), get(other), table="T3")
