"""hitl_eval's command line and job runner.

Jobs: the base models per T1 task (trained once, cached under ``<out>/cache``), then per seed T1 (per
task, with the AUROC), T2 and T5 (lift, after its base), T3 and T4 (their own policies, from the
start). ``--jobs`` worker processes run them; a job that fails is reported and the others' results kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path

from hitl_bringup.eval.common import keep_built_tasks_in_worker
from hitl_bringup.eval.config import BACKENDS, TABLES, EvalConfig

PROG = "hitl_eval"
ROW_KEYS = (*TABLES, "AUROC")


def build_jobs(cfg: EvalConfig, tables: tuple[str, ...], cache: str) -> list[tuple]:
    """(name, depends on, function, *args); ``depends on``: a job name or ''."""
    from hitl_bringup.eval.base import job_base
    from hitl_bringup.eval.t1 import job_t1
    from hitl_bringup.eval.t2 import job_t2
    from hitl_bringup.eval.t3 import job_t3
    from hitl_bringup.eval.t4 import job_t4
    from hitl_bringup.eval.t5 import job_t5

    jobs: list[tuple] = []
    need_base = {task for task, _ in cfg.t1_tasks if "T1" in tables}
    if "T2" in tables or "T5" in tables:
        need_base.add("lift")
    for task in sorted(need_base):
        jobs.append((f"base/{task}", "", job_base, task, cfg, cache))
    for seed in cfg.seeds:
        if "T3" in tables:
            jobs.append((f"T3/{seed}", "", job_t3, seed, cfg))
        if "T4" in tables:
            jobs += [(f"T4/{task}/{seed}", "", job_t4, task, seed, cfg) for task in cfg.t4_tasks]
    for seed in cfg.seeds:
        if "T1" in tables:
            jobs += [(f"T1/{task}/{seed}", f"base/{task}", job_t1, task, variant, seed, cfg, cache)
                     for task, variant in cfg.t1_tasks]
        if "T2" in tables:
            jobs.append((f"T2/{seed}", "base/lift", job_t2, seed, cfg, cache))
        if "T5" in tables:
            jobs.append((f"T5/{seed}", "base/lift", job_t5, seed, cfg, cache))
    return jobs


def _run_job(name: str, fn, *args) -> dict:
    """Run one job; its CPU seconds are kept too (wall seconds on a shared machine say little)."""
    cpu0 = time.process_time()
    try:
        res = fn(*args)
    except Exception as exc:  # one failed cell must not lose the others' results
        res = {"errors": [{"job": name, "error": f"{type(exc).__name__}: {exc}",
                           "trace": traceback.format_exc()[-2000:]}]}
    res["cpu_seconds"] = {name: round(time.process_time() - cpu0, 1)}
    return res


def gating_used(cfg: EvalConfig) -> dict:
    """The gating each task's deployments ran with (hitl_bringup.gating; threshold: calibrated per cell)."""
    from hitl_bringup.gating import load_gating

    scored = {t for t, _ in cfg.t1_tasks} | {"lift"}  # T1, T2, T5: uncertainty gates (score_every may be set)
    out = {}
    for t in sorted(scored | {cfg.t3_task, *cfg.t4_tasks}):
        over = {"score_every": cfg.score_every} if cfg.score_every is not None and t in scored else {}
        g = load_gating(t, over, missing_ok=True)
        out[t] = {**{k: v for k, v in g.arbiter_kwargs().items() if k != "threshold"}, "score_every": g.score_every}
    return out


def run(cfg: EvalConfig, tables: tuple[str, ...], jobs: int, out: Path, progress: bool = True,
        command: str = "") -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    out.mkdir(parents=True, exist_ok=True)
    cache = str(out / "cache")
    todo = build_jobs(cfg, tables, cache)
    rows: dict[str, list[dict]] = {t: [] for t in ROW_KEYS}
    extra: dict = {"seconds": {}, "cpu_seconds": {}, "errors": [], "T3_meta": [], "base": []}
    failed: set[str] = set()
    t0 = time.perf_counter()

    def collect(name: str, res: dict) -> None:
        for t in ROW_KEYS:
            rows[t] += res.get(t, [])
        extra["seconds"].update(res.get("seconds", {}))
        extra["cpu_seconds"].update(res.get("cpu_seconds", {}))
        extra["errors"] += res.get("errors", [])
        extra["base"] += res.get("base", [])
        if res.get("errors"):
            failed.add(name)
        if "T3_meta" in res:
            extra["T3_meta"].append(res["T3_meta"])
        # what finished so far, in case this run is stopped before outcomes.json is written:
        # `hitl_eval --summarize <out>/rows.partial.json` makes the tables from it
        partial = out / "rows.partial.json"
        partial.with_suffix(".tmp").write_text(json.dumps(
            {"simulator": cfg.sim, "mode": "quick" if cfg.quick else "full", "partial": True,
             "command": command, "tables": list(tables), "config": asdict(cfg), "rows": rows, **extra},
            default=float))
        partial.with_suffix(".tmp").replace(partial)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not progress, transient=False) as bar:
        bar_id = bar.add_task(f"{PROG} ({'quick' if cfg.quick else 'full'}, {cfg.sim}, {len(todo)} jobs)",
                              total=len(todo))
        pending = list(todo)
        done: set[str] = set()

        def ready() -> list[tuple]:
            now = [j for j in pending if not j[1] or j[1] in done]
            for j in now:
                pending.remove(j)
            return now

        def skip_blocked(stuck: bool = False) -> None:
            for j in [j for j in pending if j[1] in failed or stuck]:
                pending.remove(j)
                failed.add(j[0])
                extra["errors"].append({"job": j[0], "error": f"skipped: {j[1]} did not succeed", "trace": ""})
                bar.advance(bar_id)

        if jobs <= 1:
            from hitl_sim.mj.shelf import keep_built_tasks

            keep_built_tasks_in_worker()  # for this run only: the caller's process goes on after it
            try:
                while pending:
                    batch = ready()
                    if not batch:
                        skip_blocked(stuck=True)
                        continue
                    for name, _dep, fn, *args in batch:
                        bar.update(bar_id, description=f"{PROG}: {name}")
                        collect(name, _run_job(name, fn, *args))
                        done.add(name)
                        bar.advance(bar_id)
                    skip_blocked()
            finally:
                keep_built_tasks(0)
        else:
            pool = ProcessPoolExecutor(max_workers=jobs, initializer=keep_built_tasks_in_worker)
            running: dict = {}
            # A worker that dies breaks the pool and fails every job in it, and which job it ran is not
            # known: those jobs run again one at a time (suspects); one that breaks the pool alone is the
            # culprit and is recorded as an error, the others' results count.
            suspects: list[tuple] = []
            died = ("its worker process died (out of memory, a signal or a crash in native code); the other "
                    "jobs went on")
            try:
                while pending or running or suspects:
                    if suspects:
                        if not running:
                            name, _dep, fn, *args = suspects.pop(0)
                            running[pool.submit(_run_job, name, fn, *args)] = name
                    else:
                        for name, _dep, fn, *args in ready():
                            running[pool.submit(_run_job, name, fn, *args)] = name
                    if not running:
                        skip_blocked(stuck=True)
                        continue
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    alone, broken = len(running) == 1, False
                    for fut in finished:
                        name = running.pop(fut)
                        try:
                            res = fut.result()
                        except BrokenProcessPool:  # a worker died (killed for memory, a crash in C code)
                            broken = True
                            if not alone:
                                suspects.append(next(j for j in todo if j[0] == name))
                                continue
                            res = {"errors": [{"job": name, "error": died, "trace": ""}]}
                        collect(name, res)
                        done.add(name)
                        bar.update(bar_id, description=f"{PROG}: done {name}")
                        bar.advance(bar_id)
                    if broken:  # every job still in the broken pool fails too: suspects as well
                        for fut, name in running.items():
                            fut.cancel()
                            suspects.append(next(j for j in todo if j[0] == name))
                        running.clear()
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = ProcessPoolExecutor(max_workers=jobs, initializer=keep_built_tasks_in_worker)
                    skip_blocked()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    result = {
        "simulator": cfg.sim,
        "mode": "quick" if cfg.quick else "full",
        "command": command or f"python -m hitl_bringup.eval --sim {cfg.sim}" + (" --quick" if cfg.quick else ""),
        "tables": list(tables),
        "config": asdict(cfg),
        "gating": gating_used(cfg),
        "rows": rows,
        "seconds_total": round(time.perf_counter() - t0, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **extra,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "jobs": jobs},
    }
    return finish(result, cfg, out)


def finish(result: dict, cfg: EvalConfig, out: Path) -> dict:
    """Summary, outcome tables T1..T5, plots, outcomes.json and results.md from a result's rows."""
    from hitl_bringup.eval.plots import plot
    from hitl_bringup.eval.report import markdown_report
    from hitl_bringup.eval.summary import outcome_tables, summarize

    result["summary"] = summarize(result["rows"], cfg)
    result.update(outcome_tables(result["summary"], result["rows"], cfg))
    out.mkdir(parents=True, exist_ok=True)
    result["plots"] = plot(result["summary"], out)
    path = out / "outcomes.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    tmp.replace(path)
    (out / "results.md").write_text(markdown_report(result))
    return result


def _load_outcomes(path: Path) -> dict:
    try:
        result = json.loads(path.read_text())
        if "sim" not in result["config"]:
            raise KeyError("config.sim")
        result["rows"] = {t: result["rows"].get(t, []) for t in ROW_KEYS}
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise SystemExit(f"{PROG}: error: {path}: not an outcomes file ({type(exc).__name__}: {exc})") from None
    return result


def resummarize(paths: list[Path], out: Path) -> dict:
    """Saved runs (outcomes.json or rows.partial.json) with the summary, tables, orderings and plots
    recomputed from their rows. Several runs of one simulator merge: their rows are joined, and a job's
    error is dropped where another run finished that job (e.g. a table rerun after a fix)."""
    runs = [_load_outcomes(p) for p in paths]
    result = runs[0]
    sims = {r["config"]["sim"] for r in runs}
    if len(sims) > 1:
        raise SystemExit(f"{PROG}: error: runs of different simulators {sorted(sims)} cannot be merged")
    if len(runs) > 1:
        finished = {job for r in runs for job in r.get("cpu_seconds", {})
                    if not any(e["job"] == job for e in r.get("errors", []))}
        result["errors"] = [e for r in runs for e in r.get("errors", []) if e["job"] not in finished]
        for key in ("seconds", "cpu_seconds"):
            result[key] = {k: v for r in runs for k, v in r.get(key, {}).items()}
        result["rows"] = {t: [row for r in runs for row in r["rows"][t]] for t in ROW_KEYS}
        result["tables"] = list(dict.fromkeys(t for r in runs for t in r.get("tables", [])))
        result["runs"] = [{"file": str(p), "command": r.get("command"), "tables": r.get("tables"),
                           "seconds_total": r.get("seconds_total"), "partial": bool(r.get("partial"))}
                          for p, r in zip(paths, runs)]
        result["seconds_total"] = sum(r.get("seconds_total") or 0.0 for r in runs) or None
    cfg = EvalConfig.from_dict(result["config"])
    result.setdefault("simulator", cfg.sim)
    result.setdefault("mode", "quick" if cfg.quick else "full")
    result.setdefault("seconds_total", None)
    return finish(result, cfg, out)


def build_parser() -> argparse.ArgumentParser:
    from hitl_bringup import eval as pkg

    p = argparse.ArgumentParser(prog=PROG, description=pkg.__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=pkg.__doc__)
    p.add_argument("--quick", action="store_true", help="CI-size run (minutes): tiny data, short training")
    p.add_argument("--sim", default="kinematic", choices=BACKENDS,
                   help="simulator backend passed to hitl_sim.make_env (default kinematic)")
    p.add_argument("--tables", default=",".join(TABLES), help=f"comma-separated subset of {','.join(TABLES)}")
    p.add_argument("--t1-tasks", default="",
                   help="comma-separated subset of T1's tasks (default: all of the simulator's)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per cell (>= 3 for the results): 0 .. N-1")
    p.add_argument("--seed-list", default="",
                   help="comma-separated seeds instead of --seeds (finish a stopped run: merge with --summarize)")
    p.add_argument("--jobs", type=int, default=2, help="parallel worker processes (default 2)")
    p.add_argument("--out", default="bench/results", help="output folder (outcomes.json, results.md, plots, cache)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--summarize", metavar="OUTCOMES_JSON", default="",
                   help="recompute the summary, orderings, tables and plots from saved runs' rows (no runs); "
                        "several files (comma-separated) are merged")
    p.add_argument("--docs", metavar="RESULTS_MD", default="",
                   help="also regenerate the generated part of this file (e.g. docs/results.md)")
    p.add_argument("--readme", metavar="FILE", default="",
                   help="also write the README results section text to FILE ('-': stdout)")
    return p


def main(args: list[str] | None = None) -> int:
    from hitl_bringup.eval.report import print_report, readme_section, write_results_doc

    ns = build_parser().parse_args(args)
    tables = tuple(t.strip().upper() for t in ns.tables.split(",") if t.strip())
    bad = [t for t in tables if t not in TABLES]
    if bad or not tables:
        print(f"{PROG}: error: unknown tables {bad}; expected a subset of {list(TABLES)}", file=sys.stderr)
        return 2
    if ns.seeds < 1 or ns.jobs < 1:
        print(f"{PROG}: error: --seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    out = Path(ns.out)
    if ns.summarize:
        sources = [Path(p) for p in ns.summarize.split(",") if p]
        src = sources[0]
        result = resummarize(sources, out)
    else:
        src = out / "outcomes.json"
        cfg = EvalConfig.make(ns.quick, ns.sim)
        cfg.seeds = tuple(range(ns.seeds))
        if ns.seed_list:
            try:
                cfg.seeds = tuple(dict.fromkeys(int(x) for x in ns.seed_list.split(",") if x.strip()))
            except ValueError:
                cfg.seeds = ()
            if not cfg.seeds or min(cfg.seeds) < 0:
                print(f"{PROG}: error: --seed-list {ns.seed_list!r}: expected seeds >= 0, comma-separated",
                      file=sys.stderr)
                return 2
        if ns.t1_tasks:
            want = [t.strip() for t in ns.t1_tasks.split(",") if t.strip()]
            known = {task: (task, variant) for task, variant in cfg.t1_tasks}
            if not want or any(t not in known for t in want):
                print(f"{PROG}: error: --t1-tasks {ns.t1_tasks!r}: expected a subset of {sorted(known)}",
                      file=sys.stderr)
                return 2
            cfg.t1_tasks = tuple(known[t] for t in want)
        argv = sys.argv[1:] if args is None else args
        result = run(cfg, tables, ns.jobs, out, progress=not ns.no_progress,
                     command=" ".join(["python -m hitl_bringup.eval", *argv]))
    print_report(result)
    if ns.docs:
        write_results_doc(result, Path(ns.docs), str(src))
    if ns.readme:
        text = readme_section(result)
        if ns.readme == "-":
            print(text)
        else:
            Path(ns.readme).write_text(text)
    if not ns.summarize:
        print(json.dumps({"outcomes": str(out / "outcomes.json"), "seconds": result.get("seconds_total"),
                          "errors": len(result["errors"])}))
    return 0 if ns.summarize or not result.get("errors") else 1
