"""From per-seed rows to the summary, the papers' orderings and the outcomes schema (keys T1..T5).

Every cell of ``outcomes.json``: the labels that name it, the metric, ``per_seed`` values, ``mean``,
``std`` (sample std over seeds), ``n`` and ``paper`` (the paper's value beside ours; None where the
paper gives none). Orderings are checked on the means and reported as measured: "holds",
"reversed", "tie" or "incomparable" (no gate did better than never asking); nothing is tuned for them.
"""

from __future__ import annotations

import math

from hitl_bringup.eval import t1, t2, t3, t4, t5
from hitl_bringup.eval.config import TABLES, EvalConfig


def summarize(rows: dict[str, list[dict]], cfg: EvalConfig) -> dict:
    out: dict = {}
    out.update(t1.summarize(rows.get("T1", []), cfg))
    out["AUROC"] = t1.summarize_auroc(rows.get("AUROC", []))
    out["AUROC_vs_T1"] = t1.auroc_ranking_note(out["AUROC"], out["T1_equal"])
    out["T2"] = t2.summarize(rows.get("T2", []))
    out["T3"] = t3.summarize(rows.get("T3", []))
    out["T4"] = t4.summarize(rows.get("T4", []))
    out["T5"] = t5.summarize(rows.get("T5", []))
    out["orderings"] = orderings(out, cfg)
    return out


def orderings(s: dict, cfg: EvalConfig) -> list[dict]:
    checks: list[dict] = []

    def check(claim: str, a: float | None, b: float | None, lower_is_better: bool = False,
              incomparable: bool = False, table: str = "") -> None:
        if a is None or b is None:
            return
        if incomparable:
            verdict = "incomparable"
        elif math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):  # means of one set summed in another order
            verdict = "tie"
        else:
            verdict = "holds" if (a < b if lower_is_better else a > b) else "reversed"
        checks.append({"table": table, "claim": claim, "verdict": verdict, "holds": verdict == "holds",
                       "a": a, "b": b, "paper": "holds"})

    t1.orderings(s.get("T1_equal", []), check)
    t2.orderings(s.get("T2", []), check)
    t3.orderings(s.get("T3", []), cfg.t3_rounds, cfg.t3_task, check)
    t4.orderings(s.get("T4", []), check)
    t5.orderings(s.get("T5", []), check)
    return checks


def _cell(labels: dict, metric: str, stat: dict, per_seed: dict, paper: float | None) -> dict:
    return {**labels, "metric": metric, "per_seed": per_seed, "mean": stat["mean"], "std": stat["std"],
            "n": stat["n"], "paper": paper}


def outcome_tables(s: dict, rows: dict[str, list[dict]], cfg: EvalConfig) -> dict:
    """The outcomes schema's T1..T5 (cells + orderings) from a summary."""
    by_table = {t: [c for c in s.get("orderings", []) if c["table"] == t] for t in TABLES}

    def seeds(sel: list[dict], key: str) -> dict:
        return {str(r["seed"]): r[key] for r in sel}

    out: dict = {}
    cells = []
    for r in s.get("T1_equal", []):
        cells.append(_cell({"task": r["task"], "gate": r["gate"], "success_level": r["success_level"]},
                           "human_steps_at_equal_success", r["human_steps"], r["per_seed"],
                           t1.paper_steps(r["task"], r["gate"])))
    main = [x for x in rows.get("T1", []) if float(x.get("flag_rate", cfg.target_rate)) == cfg.target_rate]
    for r in s.get("T1", []):
        sel = [x for x in main if x["task"] == r["task"] and x["gate"] == r["gate"]]
        for metric in ("human_steps", "assisted_success", "episode_length"):
            paper = t1.paper_steps(r["task"], r["gate"]) if metric == "human_steps" else None
            if metric == "episode_length":
                paper = float(t1.PAPER_T1.get(r["task"].split("-")[0], {}).get("length", 0)) or None
            cells.append(_cell({"task": r["task"], "gate": r["gate"], "flag_rate": cfg.target_rate}, metric, r[metric],
                               seeds(sel, metric), paper))
    out["T1"] = {"cells": cells, "orderings": by_table["T1"],
                 "auroc": [_cell({"task": r["task"], "gate": r["gate"]}, "auroc_fail_within_chunk",
                                 r["auroc_chunk"], r["per_seed"], None) for r in s.get("AUROC", [])],
                 "auroc_vs_effort": s.get("AUROC_vs_T1", [])}
    cells = []
    for r in s.get("T2", []):
        for metric, paper_key in (("base_success", "base"), ("uncertainty_success", "uncertainty"),
                                  ("full_demos_success", "full_demos")):
            cells.append(_cell({"budget": r["budget"]}, metric, r[metric], r["per_seed"][metric],
                               t2.PAPER_T2[paper_key]))
    out["T2"] = {"cells": cells, "orderings": by_table["T2"]}
    out["T3"] = {"cells": [_cell({"task": cfg.t3_task, "method": r["method"], "round": r["round"]}, "success",
                                 r["success"], r["per_seed"],
                                 t3.PAPER_T3.get(r["method"]) if r["round"] == cfg.t3_rounds else None)
                           for r in s.get("T3", [])],
                 "orderings": by_table["T3"]}
    out["T4"] = {"cells": [_cell({"task": r["task"], "method": r["method"]}, "success", r["success"], r["per_seed"],
                                 None) for r in s.get("T4", [])],
                 "orderings": by_table["T4"], "paper": "MILE best on every task (Fig. 3; no table of numbers)"}
    cells = []
    for r in s.get("T5", []):
        for metric in ("human_steps", "success"):
            paper = t5.PAPER_T5.get(r["radius"], {}).get(metric)
            cells.append(_cell({"radius": r["radius"]}, metric, r[metric], r["per_seed"][metric], paper))
    out["T5"] = {"cells": cells, "orderings": by_table["T5"]}
    return out
