"""Simulator benchmark on MuJoCo (the simulator of record): scripted-expert success per task x arm x
variant, the cost of one control step on one core, and fleet stepping (robot-steps per second).

    .venv/bin/python bench/sim.py [--episodes 200] [--tasks lift,square] [--fleet-sizes 1,8,100]
                                  [--cell-budget-s 900] [--out bench/results/sim.json] [--resume]

Every task registered in hitl_sim.mj.MJ_TASKS, on every arm its class lists, for every variant; an arm
the task does not run on is listed under "not_supported" with the task's reason (``unsupported``:
cannot reach, cannot grasp, expert below the bar).
- expert success: ``episodes`` episodes of the task's scripted expert (num_envs robots at a time,
  robot i's episodes seeded from (seed, i)); a cell that runs past ``cell_budget_s`` stops early and
  says how many episodes it finished.
- step_ms: wall and CPU time of ``env.step`` for one robot (the expert's action computed outside the
  timed region) and of the expert's ``act``, this process pinned to one core where the OS allows.
  On a shared machine the CPU time is the cost; the wall time includes waiting for other processes.
- robot_steps_per_s: N robots stepped with the expert for ``fleet_steps`` ticks, in this process
  ("sequential") and over worker processes ("pool", hitl_sim.mj.pool, min(N, cores) workers).
Results are merged into the output file cell by cell, so a partial run keeps what finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_sim", "hitl_policy"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from hitl_sim.mj import MJ_TASKS, task_class  # noqa: E402

import hitl_sim  # noqa: E402


def expert_success(task: str, arm: str, variant: str, episodes: int, seed: int, num_envs: int,
                   budget_s: float) -> dict:
    """Run the expert until ``episodes`` episodes ended (or the budget ran out)."""
    n = min(num_envs, episodes)
    env = hitl_sim.make_env(task, arm, num_envs=n, variant=variant, seed=seed, backend="mujoco")
    expert = hitl_sim.make_expert(task, seed=seed, backend="mujoco")
    t0 = time.monotonic()
    quota = np.array([len(range(i, episodes, n)) for i in range(n)])
    started = np.minimum(quota, 1)
    active = quota > 0
    outcomes: list[tuple[bool, bool, int]] = []
    obs = env.observe()
    steps = 0
    try:
        while active.any() and time.monotonic() - t0 < budget_s:
            obs, info = env.step(expert.act(env.get_state(), obs))
            steps += int(active.sum())
            for i in np.flatnonzero(active & info["done"]):
                outcomes.append((bool(info["success"][i]), bool(info["failed"][i]), int(info["t"][i])))
                if started[i] < quota[i]:
                    started[i] += 1
                    obs[i] = env.reset(ids=[i])[i]
                else:
                    active[i] = False
    finally:
        env.close()
    ok = np.array([o[0] for o in outcomes], bool)
    return {
        "episodes": len(outcomes),
        "episodes_requested": episodes,
        "success": float(ok.mean()) if len(ok) else None,
        "failed": float(np.mean([o[1] for o in outcomes])) if outcomes else None,
        "mean_steps": float(np.mean([o[2] for o in outcomes])) if outcomes else None,
        "max_steps": int(env.max_steps),
        "seconds": round(time.monotonic() - t0, 1),
        "complete": len(outcomes) == episodes,
    }


def step_ms(task: str, arm: str, steps: int = 150) -> dict:
    """ms per control step of one robot: env.step and the expert's act, timed apart."""
    env = hitl_sim.make_env(task, arm, num_envs=1, variant="train", seed=0, backend="mujoco")
    expert = hitl_sim.make_expert(task, backend="mujoco")
    obs = env.observe()
    t_env = t_exp = c_env = c_exp = 0.0
    try:
        for _ in range(steps):
            t0, c0 = time.perf_counter(), time.process_time()
            act = expert.act(env.get_state(), obs)
            t1, c1 = time.perf_counter(), time.process_time()
            obs, info = env.step(act)
            t2, c2 = time.perf_counter(), time.process_time()
            t_exp, c_exp = t_exp + t1 - t0, c_exp + c1 - c0
            t_env, c_env = t_env + t2 - t1, c_env + c2 - c1
            if info["done"][0]:
                obs = env.reset([0])
    finally:
        env.close()
    # wall time suffers from other processes on a shared machine; CPU time of this process does not
    return {"env_step_ms": 1e3 * t_env / steps, "expert_ms": 1e3 * t_exp / steps,
            "env_step_cpu_ms": 1e3 * c_env / steps, "expert_cpu_ms": 1e3 * c_exp / steps,
            "load_average_1min": os.getloadavg()[0]}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fleet_rate(task: str, arm: str, n: int, steps: int, workers: int) -> dict:
    """Robot-steps per second for ``n`` robots (expert included), the env build time, memory per robot."""
    t0, m0 = time.monotonic(), _rss_mb()
    env = hitl_sim.make_env(task, arm, num_envs=n, variant="train", seed=0, backend="mujoco", workers=workers)
    build, mem = time.monotonic() - t0, (_rss_mb() - m0) / n
    expert = hitl_sim.make_expert(task, backend="mujoco")
    try:
        obs = env.observe()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            obs, info = env.step(expert.act(env.get_state(), obs))
            if info["done"].any():
                obs = env.reset(ids=np.flatnonzero(info["done"]))
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        env.close()
    out = {"robot_steps_per_s": n * steps / dt, "build_s": round(build, 1), "workers": workers, "steps": steps,
           "load_average_1min": os.getloadavg()[0]}
    if not workers:  # one process: its CPU time and memory are the cost (a pool's are in the workers)
        out["robot_steps_per_cpu_s"] = n * steps / cpu
        out["mb_per_robot"] = round(mem, 1)
    return out


def _save(out: Path, res: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=10, help="robots stepped at once for the success runs")
    ap.add_argument("--tasks", default="", help="comma-separated (default: every task in MJ_TASKS)")
    ap.add_argument("--arms", default="", help="comma-separated (default: every arm the task lists)")
    ap.add_argument("--variants", default="", help="comma-separated (default: every variant of the task)")
    ap.add_argument("--fleet-sizes", default="1,8,100")
    ap.add_argument("--max-fleet-mb", type=float, default=8000.0,
                    help="skip a fleet whose robots would need more memory than this (measured per robot)")
    ap.add_argument("--fleet-steps", type=int, default=20)
    ap.add_argument("--cell-budget-s", type=float, default=900.0, help="seconds per success cell")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: success, step, fleet")
    ap.add_argument("--merge-from", default="",
                    help="comma-separated result files of other runs (one per core, say): their cells are merged in")
    ap.add_argument("--core", type=int, default=-1, help="the core to pin to (two runs side by side: 0 and 1)")
    ap.add_argument("--resume", action="store_true",
                    help="keep success cells the output file already holds complete for --episodes")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sim.json"))
    args = ap.parse_args(argv)
    pin = hasattr(os, "sched_setaffinity")
    all_cores = os.sched_getaffinity(0) if pin else set(range(os.cpu_count() or 1))
    one_core = {args.core if args.core in all_cores else min(all_cores)}
    if pin:
        os.sched_setaffinity(0, one_core)  # one core; the pool runs get every core
    out = Path(args.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    if res.get("backend") != "mujoco":
        res = {}  # a kinematic-era file: start over
    res.update({"backend": "mujoco", "machine": platform.processor() or platform.machine(),
                "cores": len(all_cores), "episodes": args.episodes})
    for k in ("expert_success", "step_ms", "robot_steps_per_s", "errors", "not_supported"):
        res.setdefault(k, {})
    for other in filter(None, args.merge_from.split(",")):
        part = json.loads(Path(other).read_text())
        for k in ("expert_success", "step_ms", "robot_steps_per_s", "not_supported"):
            res[k].update(part.get(k, {}))
        for key in part.get("expert_success", {}):  # an error of an earlier run, fixed by this one
            res["errors"].pop(key, None)
        res["errors"].update(part.get("errors", {}))
    tasks = [t for t in args.tasks.split(",") if t] or sorted(MJ_TASKS)
    skip = set(args.skip.split(","))
    sizes = [int(s) for s in args.fleet_sizes.split(",") if s]
    for task in tasks:
        cls = task_class(task)
        wanted = args.arms.split(",") if args.arms else [*cls.arms, *hitl_sim.ARM_NAMES]
        for arm in dict.fromkeys(a for a in wanted if a not in cls.arms):
            why = cls.unsupported.get(arm, "not supported (no reason recorded in the task's `unsupported`)")
            res["not_supported"][f"{task}/{arm}"] = why
            print(f"{task}/{arm}: {why}", flush=True)
        arms = [a for a in dict.fromkeys(wanted) if a in cls.arms]
        for arm in arms:
            for variant in [v for v in cls.variants if not args.variants or v in args.variants.split(",")]:
                key = f"{task}/{arm}/{variant}"
                if "success" in skip:
                    break
                done = res["expert_success"].get(key, {})
                if args.resume and done.get("complete") and done.get("episodes_requested") == args.episodes:
                    print(f"expert {key:32s} kept: {done['success']} over {done['episodes']} episodes", flush=True)
                    continue
                try:
                    r = expert_success(task, arm, variant, args.episodes, args.seed, args.num_envs, args.cell_budget_s)
                except Exception as exc:
                    res["errors"][key] = f"{type(exc).__name__}: {exc}"
                    print(f"{key}: ERROR {exc}", flush=True)
                    continue
                res["expert_success"][key] = r
                _save(out, res)
                print(f"expert {key:32s} success {r['success']} over {r['episodes']} episodes "
                      f"({r['mean_steps']} steps, {r['seconds']} s)", flush=True)
            key = f"{task}/{arm}"
            if "step" not in skip:
                try:
                    res["step_ms"][key] = step_ms(task, arm)
                    print(f"step {key:24s} {res['step_ms'][key]}", flush=True)
                except Exception as exc:
                    res["errors"][key + "/step"] = f"{type(exc).__name__}: {exc}"
            if "fleet" in skip:
                continue
            per_robot_mb = 0.0
            for n in sizes:
                for mode, workers in (("sequential", 0), ("pool", min(n, len(all_cores)))):
                    if mode == "pool" and workers < 2:
                        continue
                    fkey = f"{task}/{arm}/{n}/{mode}"
                    if per_robot_mb * n > args.max_fleet_mb:
                        res["errors"][fkey] = (f"skipped: {n} robots x {per_robot_mb:.0f} MB > --max-fleet-mb "
                                               f"{args.max_fleet_mb:.0f}")
                        print(f"fleet {fkey:32s} {res['errors'][fkey]}", flush=True)
                        _save(out, res)
                        continue
                    try:
                        if mode == "pool" and pin:
                            os.sched_setaffinity(0, all_cores)
                        res["robot_steps_per_s"][fkey] = fleet_rate(task, arm, n, args.fleet_steps, workers)
                        per_robot_mb = max(per_robot_mb, res["robot_steps_per_s"][fkey].get("mb_per_robot", 0.0))
                    except Exception as exc:
                        res["errors"][fkey] = f"{type(exc).__name__}: {exc}"
                    finally:
                        if pin:
                            os.sched_setaffinity(0, one_core)
                    _save(out, res)
                    print(f"fleet {fkey:32s} {res['robot_steps_per_s'].get(fkey) or res['errors'].get(fkey)}",
                          flush=True)
    succ = [v["success"] for v in res["expert_success"].values() if v.get("success") is not None]
    res["min_expert_success"] = min(succ) if succ else None
    _save(out, res)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
