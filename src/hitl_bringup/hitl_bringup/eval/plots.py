"""The evaluation's plots (PNG, next to outcomes.json)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hitl_bringup.eval.config import T3_METHODS


def plot(summary: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)

    def bars(ax, labels, groups, title, ylabel):
        x = np.arange(len(labels))
        w = 0.8 / max(1, len(groups))
        for k, (name, vals) in enumerate(groups.items()):
            m = [v["mean"] if v["mean"] is not None else 0 for v in vals]
            e = [v["std"] or 0 for v in vals]
            ax.bar(x + k * w - 0.4 + w / 2, m, w, yerr=e, label=name, capsize=3)
        ax.set_xticks(x, labels, rotation=15)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)

    if summary.get("T1"):
        tasks = list(dict.fromkeys(r["task"] for r in summary["T1"]))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, key, yl in (
            (axes[0], "human_steps", "human steps / episode"),
            (axes[1], "assisted_success", "assisted success"),
        ):
            gates = list(dict.fromkeys(r["gate"] for r in summary["T1"]))
            empty = {"mean": None, "std": None}
            groups = {
                g: [next((r[key] for r in summary["T1"] if r["task"] == t and r["gate"] == g), empty) for t in tasks]
                for g in gates
            }
            bars(ax, tasks, groups, f"T1: {yl}", yl)
        save(fig, "t1_human_effort.png")
    if s_equal := summary.get("T1_equal"):
        tasks = list(dict.fromkeys(r["task"] for r in s_equal))
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 4), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            for r in (r for r in s_equal if r["task"] == task):
                xs = [p["human_steps"]["mean"] for p in r["curve"]]
                ys = [p["assisted_success"]["mean"] for p in r["curve"]]
                (line,) = ax.plot(xs, ys, marker="o", label=r["gate"])
                for p, x, y in zip(r["curve"], xs, ys):
                    ax.annotate(f"{p['flag_rate']:.2f}", (x, y), fontsize=6, textcoords="offset points",
                                xytext=(3, 3))
                ax.plot([0.0, xs[0]], [r["autonomous_success"], ys[0]], ls=":", color=line.get_color())
                if r["human_steps"]["mean"] is not None:
                    ax.plot([r["human_steps"]["mean"]], [r["success_level"]], marker="*", ms=14,
                            color=line.get_color())
            ax.axhline(r["success_level"], ls="--", c="gray", lw=0.8)
            ax.set_title(f"T1 {task}: effort vs success (labels: flag rate; star: at the common level)", fontsize=8)
            ax.set_xlabel("human steps / episode")
            ax.set_ylabel("assisted success")
            ax.legend(fontsize=7)
        save(fig, "t1_equal_success.png")
    if summary.get("T2"):
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = [str(r["budget"]) for r in summary["T2"]]
        groups = {
            n: [r[f"{k}_success"] for r in summary["T2"]]
            for n, k in (("base", "base"), ("uncertainty", "uncertainty"), ("full demos", "full_demos"))
        }
        bars(ax, labels, groups, "T2: lift-unseen after fine-tuning on N human steps", "autonomous success")
        ax.set_xlabel("human steps N")
        save(fig, "t2_targeted_data.png")
    if summary.get("T3"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for m in (*T3_METHODS, "full-demos"):
            rs = [r for r in summary["T3"] if r["method"] == m and r["success"]["mean"] is not None]
            if not rs:  # (rounds the evaluation did not measure are left out, not drawn as 0)
                continue
            xs = [r["round"] for r in rs]
            ms = np.array([r["success"]["mean"] or 0 for r in rs])
            es = np.array([r["success"]["std"] or 0 for r in rs])
            if m == "full-demos":
                ax.errorbar(xs, ms, yerr=es, fmt="s", label=m, capsize=3)
            else:
                ax.plot(xs, ms, marker="o", label=m)
                ax.fill_between(xs, ms - es, ms + es, alpha=0.15)
        ax.set_xlabel("round")
        ax.set_ylabel("autonomous success")
        ax.set_title("T3: learning from interventions")
        ax.legend(fontsize=8)
        save(fig, "t3_iwr.png")
    if summary.get("T4"):
        tasks = list(dict.fromkeys(r["task"] for r in summary["T4"]))
        fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            rows = [r for r in summary["T4"] if r["task"] == task]
            bars(ax, [r["method"] for r in rows], {"success": [r["success"] for r in rows]},
                 f"T4 {task}: fine-tuned from a weak policy", "autonomous success")
            weak = rows[0]["weak_success"]["mean"]
            if weak is not None:
                ax.axhline(weak, ls="--", c="gray", label="weak policy")
        save(fig, "t4_mile.png")
    if summary.get("T5"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        radii = [f"{r['radius']:g}" for r in summary["T5"]]
        bars(axes[0], radii, {"human steps / episode": [r["human_steps"] for r in summary["T5"]]},
             "T5: human steps by sampling radius", "human steps / episode")
        bars(axes[1], radii, {"success after fine-tuning": [r["success"] for r in summary["T5"]]},
             "T5: success after fine-tuning", "autonomous success")
        for ax in axes:
            ax.set_xlabel("sampling radius r (raw action units)")
        save(fig, "t5_radius.png")
    if summary.get("AUROC"):
        tasks = list(dict.fromkeys(r["task"] for r in summary["AUROC"]))
        gates = list(dict.fromkeys(r["gate"] for r in summary["AUROC"]))
        fig, ax = plt.subplots(figsize=(8, 4))
        empty = {"mean": None, "std": None}
        groups = {g: [next((r["auroc_chunk"] for r in summary["AUROC"] if r["task"] == t and r["gate"] == g), empty)
                      for t in tasks] for g in gates}
        bars(ax, tasks, groups, "AUROC: score vs 'fails within the next chunk'", "AUROC")
        ax.axhline(0.5, ls=":", c="gray")
        save(fig, "auroc.png")
    return files
