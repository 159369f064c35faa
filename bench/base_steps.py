"""Choose T3's base training steps and T4's weak-policy steps by the base policy's own success.

    python bench/base_steps.py --table t3 --out bench/results/base_steps_t3.json   # square, diffusion
    python bench/base_steps.py --table t4 --out bench/results/base_steps_t4.json   # Metaworld, Gaussian MLP

The evaluation wants bases that succeed *sometimes* (IWR's bases: 40-57 %; MILE starts from a weak
policy), so an intervention method has something to correct. The sizes chosen on the kinematic
simulator do not carry over to MuJoCo (square's base: 0.00; Metaworld's "weak" policy: 0.77-1.0), so
each candidate step count is trained per seed exactly as the table's job trains its base (same demos,
demo seeds, policy seed, batch) and run alone on the train variant, on episode seeds no table uses.
The rule, fixed before any candidate ran: the candidate whose mean success over the seeds lies in
the table's range (T3 0.2-0.6, T4 0.1-0.5) closest to the range's middle; none in range: the closest
to the range; ties: fewer steps. T4 chooses per task. Only the base's own success is looked at, never
a table's ordering (docs/results.md, "Chosen by a measurement").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_policy", "hitl_teleop", "hitl_bringup", "hitl_sim"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

RANGES = {"t3": (0.2, 0.6), "t4": (0.1, 0.5)}
CANDIDATES = {"t3": (500, 1000, 2000, 4000), "t4": (25, 50, 100, 250, 500, 1000, 2000)}
EPISODE_SEED = 12_000  # + seed: episodes no table runs (T3 evaluates on 10_000 + seed, T4 on 8000 + seed)


def choose(means: dict[int, float], lo: float, hi: float) -> int:
    """The rule above: ``means`` maps step counts to mean success."""
    mid = (lo + hi) / 2

    def key(steps: int) -> tuple[float, float, int]:
        m = means[steps]
        off_range = max(lo - m, m - hi, 0.0)
        return (off_range, abs(m - mid), steps)

    return min(means, key=key)


def demos_job(table: str, task: str, seed: int, folder: str) -> tuple[str, int, str]:
    from hitl_bringup.eval import t3, t4
    from hitl_bringup.eval.common import setup_worker
    from hitl_bringup.eval.config import EvalConfig

    setup_worker()
    cfg = EvalConfig.make(False, "mujoco")
    demos = t3.base_demos(seed, cfg) if table == "t3" else t4.weak_demos(task, seed, cfg)  # the tables' own
    path = Path(folder) / f"{task}_{seed}.npz"
    demos.save(path)
    return task, seed, str(path)


def success_job(table: str, task: str, seed: int, steps: int, demos_path: str, episodes: int) -> dict:
    from hitl_bringup.eval import t3, t4
    from hitl_bringup.eval.common import autonomous, setup_worker
    from hitl_bringup.eval.config import EvalConfig
    from hitl_core.data import EpisodeDataset

    setup_worker()
    cfg = EvalConfig.make(False, "mujoco")
    demos = EpisodeDataset.load(demos_path)
    t0 = time.perf_counter()
    if table == "t3":
        policy, arm = t3.train_base(demos, seed, cfg, steps), cfg.arm
    else:
        policy, arm = t4.train_weak(demos, task, seed, cfg, steps), t4.task_arm(task, cfg)
    train_s = time.perf_counter() - t0
    res = autonomous(policy, task, "train", episodes, EPISODE_SEED + seed, arm=arm, num_envs=cfg.num_envs,
                     sim="mujoco")
    return {"task": task, "seed": seed, "steps": steps, "success": res.summary()["success_rate"],
            "train_s": round(train_s, 1), "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    from hitl_bringup.eval.common import keep_built_tasks_in_worker
    from hitl_bringup.eval.config import BACKEND_TASKS
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", choices=tuple(RANGES), required=True)
    p.add_argument("--steps", type=int, nargs="*", default=None, help="candidates (default: the table's)")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=10, help="autonomous episodes per candidate and seed")
    p.add_argument("--tasks", nargs="*", default=None)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    tasks = a.tasks or ([BACKEND_TASKS["mujoco"]["t3"]] if a.table == "t3" else list(BACKEND_TASKS["mujoco"]["t4"]))
    candidates = tuple(a.steps or CANDIDATES[a.table])
    lo, hi = RANGES[a.table]
    t0 = time.time()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder, \
            ProcessPoolExecutor(a.jobs, initializer=keep_built_tasks_in_worker) as pool:
        demo_futs = [pool.submit(demos_job, a.table, t, s, folder) for t in tasks for s in a.seeds]
        runs = []
        for f in tqdm(as_completed(demo_futs), total=len(demo_futs), desc="demos"):
            task, seed, path = f.result()
            runs += [pool.submit(success_job, a.table, task, seed, n, path, a.episodes) for n in candidates]
        for f in tqdm(as_completed(runs), total=len(runs), desc="candidates"):
            rows.append(f.result())
    chosen = {}
    for task in tasks:
        means = {n: sum(r["success"] for r in rows if r["task"] == task and r["steps"] == n) / len(a.seeds)
                 for n in candidates}
        chosen[task] = {"steps": choose(means, lo, hi), "mean_success": means}
    result = {"command": " ".join(["python", "bench/base_steps.py", *(argv or sys.argv[1:])]),
              "table": a.table, "range": [lo, hi], "candidates": list(candidates), "seeds": a.seeds,
              "episodes": a.episodes, "wall_s": round(time.time() - t0, 1),
              "rows": sorted(rows, key=lambda r: (r["task"], r["steps"], r["seed"])), "chosen": chosen}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(chosen, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
