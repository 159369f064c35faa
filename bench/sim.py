"""Simulator benchmark: scripted-expert success per task/arm and vectorized stepping cost.

    .venv/bin/python bench/sim.py [--episodes 200] [--out bench/results/sim.json]

fleet100_step_us_per_robot: wall time of ``env.step`` for 100 robots divided by 100 (expert
actions computed outside the timed region), the worst over tasks; target <= 1000 us.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "hitl_sim"))
sys.path.insert(0, str(ROOT / "src" / "hitl_policy"))

import hitl_sim  # noqa: E402


def expert_success(task: str, arm: str, variant: str, episodes: int, seed: int, **opts) -> dict:
    env = hitl_sim.make_env(task, arm, num_envs=episodes, variant=variant, seed=seed)
    expert = hitl_sim.make_expert(task, **opts)
    obs = env.reset()
    while not env.done.all():
        obs, info = env.step(expert.act(env.get_state(), obs))
    return {
        "success": float(info["success"].mean()),
        "failed": float(info["failed"].mean()),
        "mean_steps": float(env.t.mean()),
        "max_steps": int(env.max_steps),
    }


def step_cost(task: str, arm: str, n: int, steps: int = 60) -> float:
    env = hitl_sim.make_env(task, arm, num_envs=n, variant="test", seed=0)
    expert = hitl_sim.make_expert(task)
    obs = env.reset()
    total = 0.0
    for _ in range(steps):
        act = expert.act(env.get_state(), obs)
        t0 = time.perf_counter()
        obs, info = env.step(act)
        total += time.perf_counter() - t0
        if info["done"].any():
            obs = env.reset(ids=np.nonzero(info["done"])[0])
    return 1e6 * total / steps / n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sim.json"))
    args = ap.parse_args()
    res: dict = {
        "episodes": args.episodes,
        "machine": platform.processor() or platform.machine(),
        "expert_success": {},
        "baselines": {},
        "step_us_per_robot": {},
    }
    for arm in hitl_sim.ARM_NAMES:
        for task in hitl_sim.TASK_NAMES:
            for variant in ("train", "test"):
                r = expert_success(task, arm, variant, args.episodes, args.seed)
                res["expert_success"][f"{task}/{arm}/{variant}"] = r
                print(
                    f"expert {task:10s} {arm:6s} {variant:5s} success {r['success']:.3f} "
                    f"({r['mean_steps']:.0f} steps)",
                    flush=True,
                )
    for task, opts in (("lift", {"cube_only": True}), ("nav", {"know_wind": False})):
        for variant in ("train", "test"):
            r = expert_success(task, "franka", variant, args.episodes, args.seed, **opts)
            key = f"{task}/franka/{variant}/" + ",".join(f"{k}={v}" for k, v in opts.items())
            res["baselines"][key] = r
            print(f"baseline {key}: success {r['success']:.3f}", flush=True)
    for task in hitl_sim.TASK_NAMES:
        for n in (1, 100):
            res["step_us_per_robot"][f"{task}/franka/{n}"] = step_cost(task, "franka", n)
    res["fleet100_step_us_per_robot"] = max(
        v for k, v in res["step_us_per_robot"].items() if k.endswith("/100")
    )
    res["fleet100_step_us_per_robot_lift"] = res["step_us_per_robot"]["lift/franka/100"]
    res["fleet100_target_us"] = 1000.0
    res["min_expert_success_test"] = min(
        v["success"] for k, v in res["expert_success"].items() if k.endswith("test")
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
