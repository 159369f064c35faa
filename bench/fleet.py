"""Fleet benchmark (``make fleet-bench``): N robots, M operators, methods x tasks x seeds -> fleet.json + plot.

    python bench/fleet.py [--tasks push cube_stack] [--seeds 3] [--robots 100] [--operators 10] [--steps 2000]
                          [--methods IIFL IFL IIFL-R diffusion BC IBC] [--cache runs/fleet_bench]

The loop and the methods: src/hitl_bringup/hitl_bringup/fleet_bench.py. Per method and task (mean
and per seed): successes, hard resets, human actions, idle time (robot-ticks waiting for an
operator), ROHE (IIFL Eq. 3, fleet reward summed over robots), wall time, ms per tick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_policy", "hitl_teleop", "hitl_sim", "hitl_bringup"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hitl_bringup.fleet_bench import METHODS, BenchSizes, run_fleet, simulator_of, train_policies  # noqa: E402

KEYS = ("successes", "hard_resets", "human_actions", "idle_time", "rohe", "wall_s")


def summarize(rows: list[dict]) -> dict:
    out = {}
    for k in (*KEYS, "request_rate"):
        v = np.array([r[k] for r in rows], float)
        out[k] = {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4)}
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results)
    fig, axes = plt.subplots(len(tasks), 3, figsize=(13, 3.6 * len(tasks)), squeeze=False)
    for r, task in enumerate(tasks):
        methods = list(results[task]["summary"])
        for c, key in enumerate(("rohe", "successes", "hard_resets")):
            ax = axes[r][c]
            mean = [results[task]["summary"][m][key]["mean"] for m in methods]
            std = [results[task]["summary"][m][key]["std"] for m in methods]
            ax.bar(methods, mean, yerr=std, color="tab:blue", alpha=0.8)
            ax.set_title(f"{task}: {key}")
            ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def sim_speed(tasks: tuple[str, ...] = ("push", "nav"), n: int = 100, ticks: int = 60) -> dict:
    """CPU time of MjVecEnv.step for n robots (expert actions): robot-steps per second of one core."""
    from hitl_bringup.fleet_bench import make_env, make_expert

    out = {}
    for task in tasks:
        env, ex = make_env(task, n, 0, "test"), make_expert(task, None, 0.0, 0)
        obs, cpu = env.reset(), 0.0
        for _ in range(ticks):
            a = ex.act(env.get_state(), obs)
            c = time.process_time()
            obs, info = env.step(a)
            cpu += time.process_time() - c
            done = np.flatnonzero(info["done"])
            if len(done):
                obs = env.reset(done)
        out[task] = {"robots": n, "robot_steps_per_s_cpu": round(n * ticks / cpu),
                     "us_per_robot_step_cpu": round(cpu / (n * ticks) * 1e6, 1)}
    return out


# sizes only one method reads: a rerun of that method alone at another value replaces its rows (join_runs)
METHOD_ONLY_SIZES = {"denoising_points": "diffusion"}


def join_runs(a: dict, b: dict) -> dict:
    """One task's results from two runs: their per-seed rows joined (a method and seed once: b's wins).

    Sizes must agree, except one that only one method reads when ``b`` ran that method alone: then b's
    rows replace all of that method's rows, and ``method_sizes`` records the sizes it ran with."""
    differ = {k for k in a["sizes"].keys() | b["sizes"].keys() if a["sizes"].get(k) != b["sizes"].get(k)}
    own = {k for k in differ if set(b["runs"]) == {METHOD_ONLY_SIZES.get(k)}}
    if differ - own or a["simulator"] != b["simulator"]:
        raise SystemExit(f"fleet merge: {a['simulator']} {a['sizes']} and {b['simulator']} {b['sizes']} differ")
    runs: dict[str, dict[int, dict]] = {}
    for part in (a, b):
        for method, rows in part["runs"].items():
            if own and part is b:
                runs[method] = {}  # rows at other sizes: no seed of a's is kept
            runs.setdefault(method, {}).update({r["seed"]: r for r in rows})
    joined = {m: [by_seed[k] for k in sorted(by_seed)] for m, by_seed in runs.items()}
    seeds = sorted({r["seed"] for rows in joined.values() for r in rows})
    method_sizes = dict(a.get("method_sizes", {}))
    for k in own:
        method_sizes.setdefault(METHOD_ONLY_SIZES[k], {})[k] = b["sizes"][k]
    return {**a, "runs": joined, "seeds": len(seeds), "seed_list": seeds, "method_sizes": method_sizes,
            "train_s": (a.get("train_s") or 0.0) + (b.get("train_s") or 0.0)}  # None: not recorded


def merge(paths: list[str], out_path: str) -> int:
    """One fleet.json (+ plot) from per-task files written by separate processes."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    out = dict(parts[0])
    out["results"] = {}
    for p in parts:  # tasks may run at different sizes; one task's runs may come from several files (seeds)
        for t, r in p["results"].items():
            r = {**r, "sizes": r.get("sizes", p["sizes"]), "seeds": r.get("seeds", p["seeds"])}
            if t in out["results"]:
                r = join_runs(out["results"][t], r)
            out["results"][t] = r
    for res in out["results"].values():  # the runs round ROHE to 4 decimals: recompute it exactly (Eq. 3,
        m_over_n = res["sizes"]["n_operators"] / res["sizes"]["n_robots"]
        for rows in res["runs"].values():  # reward 1 per success) so that small values stay comparable
            for r in rows:
                r["rohe"] = m_over_n * r["successes"] / (1 + r["human_actions"])
        res["summary"] = {m: summarize(rows) for m, rows in res["runs"].items()}
        for key in ("rohe", "successes"):
            for m in res["summary"]:
                res["summary"][m][key]["mean"] = float(np.mean([r[key] for r in res["runs"][m]]))
        res["rohe_order"] = sorted(res["summary"], key=lambda m: -res["summary"][m]["rohe"]["mean"])
        res["success_order"] = sorted(res["summary"], key=lambda m: -res["summary"][m]["successes"]["mean"])
    out["wall_s_by_task"] = {}
    for p in parts:  # a merged file brings its own per-task times
        for t in p["results"]:
            own = p.get("wall_s_by_task", {}).get(t, p["wall_s_total"])
            out["wall_s_by_task"][t] = out["wall_s_by_task"].get(t, 0.0) + own
    out["wall_s_total"] = max(out["wall_s_by_task"].values())
    out["sim_speed"] = sim_speed()
    path = Path(out_path)
    path.write_text(json.dumps(out, indent=1) + "\n")
    plot(out["results"], path.with_suffix(".png"))
    print(f"[fleet-bench] merged {paths} into {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=["push", "cube_stack"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed-list", default="", help="comma-separated seeds instead of 0 .. --seeds-1 (merge with "
                   "--merge-from to finish a run)")
    p.add_argument("--robots", type=int, default=100)
    p.add_argument("--operators", type=int, default=10)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--train-steps", type=int, default=None)
    p.add_argument("--ebm-train-steps", type=int, default=None)
    p.add_argument("--denoising-points", type=int, default=None,
                   help="the diffusion method's denoising gate: DDIM samples per robot (default BenchSizes')")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache", default=str(ROOT / "runs" / "fleet_bench"))
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "fleet.json"))
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--merge", action="store_true", help="add these tasks to an existing --out file")
    p.add_argument("--merge-from", nargs="+", default=None, help="per-task fleet json files to merge into --out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.merge_from:
        return merge(args.merge_from, args.out)
    sizes = BenchSizes(n_robots=args.robots, n_operators=args.operators, steps=args.steps)
    if args.train_steps is not None:
        sizes.train_steps = args.train_steps
    if args.ebm_train_steps is not None:
        sizes.ebm_train_steps = args.ebm_train_steps
    if args.denoising_points is not None:
        sizes.denoising_points = args.denoising_points
    methods = list(args.methods)
    if "IIFL-R" in methods and "IIFL" in methods:  # IIFL first: IIFL-R reuses its request rate
        methods.remove("IIFL")
        methods.insert(0, "IIFL")
    seeds = [int(x) for x in args.seed_list.split(",") if x.strip()] if args.seed_list else list(range(args.seeds))
    t_start = time.perf_counter()
    results: dict = {}
    for task in args.tasks:
        t0 = time.perf_counter()
        policies = train_policies(task, sizes, Path(args.cache))
        train_s = time.perf_counter() - t0
        rows: dict[str, list[dict]] = {m: [] for m in methods}
        for seed in seeds:
            rate = None
            for method in methods:
                res = run_fleet(method, task, policies, sizes, seed, request_rate=rate,
                                progress=not args.no_progress)
                if method == "IIFL":
                    rate = res.request_rate
                rows[method].append(res.row())
                partial = {"task": task, "seed_done": seed, "method_done": method, "runs": rows}
                Path(args.out).with_suffix(f".{task}.partial.json").write_text(json.dumps(partial, indent=1) + "\n")
                print(f"[fleet-bench] {task} {method:9s} seed {seed}: successes {res.successes} hard resets "
                      f"{res.hard_resets} human {res.human_actions} idle {res.idle_time} ROHE {res.rohe:.3f} "
                      f"({res.wall_s:.0f} s)", flush=True)
        summary = {m: summarize(r) for m, r in rows.items()}
        order = sorted(summary, key=lambda m: -summary[m]["rohe"]["mean"])
        results[task] = {"simulator": simulator_of(task), "train_s": round(train_s, 1), "summary": summary,
                         "runs": rows, "rohe_order": order,
                         "success_order": sorted(summary, key=lambda m: -summary[m]["successes"]["mean"])}
        print(f"[fleet-bench] {task}: ROHE order {' > '.join(order)}", flush=True)
    out = {
        "sizes": dataclasses.asdict(sizes),
        "seeds": len(seeds),
        "seed_list": seeds,
        "methods": methods,
        "results": results,
        "notes": ["no online learning: policies are trained once from mixed-style demos",
                  "ROHE = IIFL Eq. 3 with the fleet reward summed over robots (hitl_teleop.fleet.rohe)",
                  "each task's simulator (MuJoCo when registered in hitl_sim.mj) is results[task].simulator"],
        "wall_s_total": round(time.perf_counter() - t_start, 1),
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_avg_1min": os.getloadavg()[0],
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and path.exists():  # keep the other tasks of an earlier run (one process per task)
        old = json.loads(path.read_text())
        out["results"] = {**old.get("results", {}), **results}
        out["wall_s_by_task"] = {**old.get("wall_s_by_task", {}), **{t: out["wall_s_total"] for t in results}}
        results = out["results"]
    path.write_text(json.dumps(out, indent=1) + "\n")
    plot(results, path.with_suffix(".png"))
    print(f"[fleet-bench] wrote {path} and {path.with_suffix('.png')} ({out['wall_s_total']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
