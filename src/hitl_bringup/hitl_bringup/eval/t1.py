"""T1 human effort (diffusion paper, Table I), and the gates' AUROC (hitl_bringup/eval/auroc.py).

Per (task, seed): the cached base diffusion policy acts; each gate scores the same nominal
(train-variant) rollouts and is calibrated to flag each of the flag rates there (same human budget);
then deployed on the evaluation variant with the task YAML's gating (``GateConfig.for_task``: release
rule, minimum intervention time) and a simulated operator. The same job runs the policy alone
("never ask": the autonomous success) and scores those rollouts' states for the AUROC.

Summary: the main table at ``target_rate``, and each gate's human steps **at equal assisted success**
(the paper's reading): per task the highest mean assisted success every gate reaches; a gate's effort
there is the fewest human steps of one operating point at or above it, or of a mix of one below and
one above (switching thresholds between episodes reaches the interpolated point on average).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hitl_bringup.eval.auroc import gate_auroc
from hitl_bringup.eval.base import paths_for
from hitl_bringup.eval.common import (
    autonomous,
    calibrate,
    calibration_sample,
    gate_config,
    load_base,
    make_env,
    make_expert,
    mean_std,
    operator,
    score_steps,
    setup_worker,
)
from hitl_bringup.eval.config import DENOISING_GATES, T1_GATES, EvalConfig, flag_rates

# The paper's Table I: human-assisted steps per episode / episode length (ours: denoising vectors),
# and HULA-offline (our ensemble-variance baseline).
PAPER_T1 = {"lift": {"steps": 20, "length": 80, "hula": 56}, "cup_stack": {"steps": 5, "length": 147, "hula": 54},
            "drawer": {"steps": 8, "length": 115, "hula": 22}}
T1_KEYS = ("human_steps", "episode_length", "assisted_success", "help_requests", "autonomous_success")


def paper_steps(task: str, gate: str) -> float | None:
    p = PAPER_T1.get(task.split("-")[0])
    if p is None:
        return None
    if gate in DENOISING_GATES:
        return float(p["steps"])
    return float(p["hula"]) if gate == "ensemble_variance" else None


def make_gates(base: dict, seed: int, cfg: EvalConfig, gates: tuple[str, ...] = T1_GATES) -> dict:
    from hitl_policy.registry import make_estimator

    policy = base["diffusion"]
    out = {}
    for gate in gates:
        if gate == "denoising_vector":
            out[gate] = make_estimator(gate, policy, seed=seed, **cfg.denoising_params)
        elif gate == "denoising_vector_paper":
            out[gate] = make_estimator(gate, policy, seed=seed)
        elif gate == "ensemble_variance":
            out[gate] = make_estimator(gate, base["ensemble"])
        elif gate == "jeffreys":
            out[gate] = make_estimator(gate, base["ebm"], seed=seed)
        else:
            out[gate] = make_estimator(gate, policy, rate=0.5, seed=seed)
    return out


def nominal_scores(policy, estimators: dict, task: str, cfg: EvalConfig, seed: int, max_states: int = 300) -> dict:
    """Each estimator's scores of the same states of nominal (train-variant) autonomous rollouts."""
    res = autonomous(policy, task, "train", cfg.calib_episodes, seed, arm=cfg.arm, num_envs=cfg.num_envs, sim=cfg.sim)
    steps = calibration_sample(res.dataset, max_states, seed)
    return {g: score_steps(est, policy.n_obs, res.dataset, steps) for g, est in estimators.items()}


def job_t1(task: str, variant: str, seed: int, cfg: EvalConfig, cache: str) -> dict:
    setup_worker()
    from hitl_bringup.sim_loop import deploy

    t0 = time.perf_counter()
    base = load_base(paths_for(task, cfg, Path(cache)), ("diffusion", "ensemble", "ebm"))
    policy = base["diffusion"]
    eval_seed = 1000 + seed
    auto = autonomous(policy, task, variant, cfg.t1_episodes, eval_seed, arm=cfg.arm, num_envs=cfg.num_envs,
                      sim=cfg.sim)
    auto_success = auto.summary()["success_rate"]
    gates = make_gates(base, seed, cfg)
    calib = nominal_scores(policy, gates, task, cfg, 2000 + seed)
    rows = []
    for gate, est in gates.items():
        for rate in flag_rates(cfg):
            thr = calibrate(calib[gate], rate)
            with make_env(task, cfg.arm, min(cfg.num_envs, cfg.t1_episodes), variant, eval_seed, cfg.sim) as env:
                res = deploy(env, policy, cfg.t1_episodes, est,
                             gate_config(task, thr, cfg.reaction_ticks, cfg.score_every),
                             make_expert(task, seed=seed, sim=cfg.sim), seed=eval_seed,
                             operator=operator(cfg.reaction_ticks, seed))
            s = res.summary()
            rows.append({"table": "T1", "task": f"{task}-{variant}", "gate": gate, "seed": seed, "flag_rate": rate,
                         "threshold": thr, "assisted_success": s["success_rate"], "human_steps": s["human_steps"],
                         "episode_length": s["episode_length"], "help_requests": s["help_requests"],
                         "paused_steps": s["paused_steps"], "autonomous_success": auto_success})
    aur = gate_auroc(gates, policy.n_obs, auto.dataset, policy.horizon, cfg.auroc_max_pos, cfg.auroc_max_neg,
                     seed)
    auroc_rows = [{"table": "AUROC", "task": f"{task}-{variant}", "gate": g, "seed": seed,
                   "autonomous_success": auto_success, **v} for g, v in aur.items()]
    return {"T1": rows, "AUROC": auroc_rows, "seconds": {f"T1/{task}/{seed}": round(time.perf_counter() - t0, 1)}}


# ------------------------------------------------------------------------------------------ summary
def _rate(row: dict, cfg: EvalConfig) -> float:
    return float(row.get("flag_rate", cfg.target_rate))  # rows from before the sweep: the main rate


def effort_at(points: list[tuple[float, float]], level: float) -> float | None:
    """Fewest human steps per episode that reach assisted success ``level`` with these operating points
    (success, human steps): one point at or above the level, or a mix of one below and one above it.
    None: unreachable."""
    above = [(s, h) for s, h in points if s >= level - 1e-9]
    below = [(s, h) for s, h in points if s < level - 1e-9]
    costs = [h_hi for _s, h_hi in above] + [
        h_lo + (h_hi - h_lo) * (level - s_lo) / (s_hi - s_lo) for s_hi, h_hi in above for s_lo, h_lo in below
    ]
    return min(costs) if costs else None


def equal_success(t1: list[dict], cfg: EvalConfig) -> list[dict]:
    """Each gate's human effort at the same assisted success. A gate's operating points are its flag
    rates plus "never ask" (no human steps, the autonomous success). ``level`` = the highest mean
    assisted success every gate reaches; the per-seed values are :func:`effort_at` that level on each
    seed's own points (seeds that cannot reach it are left out and counted)."""
    out = []
    for task in dict.fromkeys(r["task"] for r in t1):
        curves: dict[str, list[dict]] = {}
        per_seed: dict[str, dict[int, list[tuple[float, float]]]] = {}
        for gate in dict.fromkeys(r["gate"] for r in t1 if r["task"] == task):
            rows = [r for r in t1 if r["task"] == task and r["gate"] == gate]
            curves[gate] = [
                {"flag_rate": rate,
                 **{k: mean_std([r[k] for r in rows if _rate(r, cfg) == rate]) for k in T1_KEYS}}
                for rate in sorted({_rate(r, cfg) for r in rows})
            ]
            seeds: dict[int, list[tuple[float, float]]] = {}
            for r in rows:
                seeds.setdefault(r["seed"], [(r["autonomous_success"], 0.0)]).append(
                    (r["assisted_success"], r["human_steps"]))
            per_seed[gate] = seeds
        if not curves:
            continue
        level = min(max(p["assisted_success"]["mean"] or 0.0 for p in c) for c in curves.values())
        for gate, curve in curves.items():
            auto = curve[0]["autonomous_success"]["mean"] or 0.0
            mean_pts = [(auto, 0.0)] + [(p["assisted_success"]["mean"], p["human_steps"]["mean"]) for p in curve]
            seed_vals = {s: effort_at(pts, level) for s, pts in per_seed[gate].items()}
            reached = [v for v in seed_vals.values() if v is not None]
            spread = mean_std(reached)
            out.append({
                "task": task, "gate": gate, "success_level": level, "autonomous_success": auto,
                "human_steps": {"mean": effort_at(mean_pts, level), "std": spread["std"], "n": spread["n"]},
                "per_seed": {str(s): v for s, v in sorted(seed_vals.items())},
                "max_success": max(p["assisted_success"]["mean"] for p in curve),
                "curve": curve,
            })
    return out


def summarize(rows: list[dict], cfg: EvalConfig) -> dict:
    main = [r for r in rows if _rate(r, cfg) == cfg.target_rate]
    table = [
        {"task": t, "gate": g, **{k: mean_std([r[k] for r in main if r["task"] == t and r["gate"] == g])
                                  for k in T1_KEYS}}
        for t in dict.fromkeys(r["task"] for r in main)
        for g in dict.fromkeys(r["gate"] for r in main if r["task"] == t)
    ]
    return {"T1": table, "T1_equal": equal_success(rows, cfg)}


def summarize_auroc(rows: list[dict]) -> list[dict]:
    return [
        {"task": t, "gate": g,
         **{k: mean_std([r[k] for r in rows if r["task"] == t and r["gate"] == g])
            for k in ("auroc_chunk", "auroc_episode", "positives", "negatives", "autonomous_success")},
         "per_seed": {str(r["seed"]): r["auroc_chunk"] for r in rows if r["task"] == t and r["gate"] == g}}
        for t in dict.fromkeys(r["task"] for r in rows)
        for g in dict.fromkeys(r["gate"] for r in rows if r["task"] == t)
    ]


def orderings(equal: list[dict], check) -> None:
    """The paper's claim, per task, for both denoising gates: fewer human steps at equal assisted success
    than ensemble variance (HULA) and than random."""
    for task in dict.fromkeys(r["task"] for r in equal):
        rows = [r for r in equal if r["task"] == task]
        level = rows[0]["success_level"]
        auto = max(r["autonomous_success"] for r in rows)
        by_gate = {r["gate"]: r["human_steps"]["mean"] for r in rows}
        for dv in DENOISING_GATES:
            for other in ("ensemble_variance", "random"):
                if dv not in by_gate or other not in by_gate:
                    continue
                claim = f"T1 {task} at equal assisted success {level:.2f}: {dv} needs fewer human steps than {other}"
                check(claim, by_gate[dv], by_gate[other], lower_is_better=True,
                      incomparable=level <= auto + 1e-9, table="T1")


def auroc_ranking_note(auroc: list[dict], equal: list[dict]) -> list[dict]:
    """Per task: the gates ranked by AUROC (chunk label) and by human steps at equal success, side by side."""
    out = []
    for task in dict.fromkeys(r["task"] for r in auroc):
        a = {r["gate"]: r["auroc_chunk"]["mean"] for r in auroc if r["task"] == task}
        e = {r["gate"]: r["human_steps"]["mean"] for r in equal if r["task"] == task}
        by_auroc = sorted((g for g in a if a[g] is not None), key=lambda g: -a[g])
        by_effort = sorted((g for g in e if e[g] is not None), key=lambda g: e[g])
        common = [g for g in by_auroc if g in by_effort]
        rho = None
        if len(common) >= 3:
            ra = np.argsort(np.argsort([-a[g] for g in common]))
            re = np.argsort(np.argsort([e[g] for g in common]))
            rho = float(np.corrcoef(ra, re)[0, 1])
        out.append({"task": task, "by_auroc": by_auroc, "by_effort": by_effort, "spearman": rho})
    return out
