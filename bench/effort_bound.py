"""Lower bound on the human step fraction for lift's unseen objects, per arm (see hitl_bringup.effort_bound).

    .venv/bin/python bench/effort_bound.py [--episodes 30] [--out bench/results/effort_bound.json]

For every take-over step s (the same for all episodes) a training-like robot (the expert grasping
every object like the cube) drives until s, the scripted human until the object is grasped, the
robot again after. The bound is the least human fraction among switch steps with >= 90 % success.
Writes the JSON and a plot of success and human fraction against s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_sim", "hitl_policy", "hitl_bringup"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from hitl_bringup.effort_bound import effort_bound  # noqa: E402

TARGET = 0.30  # the demo's human step fraction target


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm, r in results.items():
        s = [row["switch_step"] for row in r["rows"]]
        a.plot(s, [row["success_rate"] for row in r["rows"]], marker="o", ms=3, label=arm)
        b.plot(s, [row["human_fraction"] for row in r["rows"]], marker="o", ms=3, label=arm)
    a.axhline(0.9, color="k", ls="--", lw=1)
    b.axhline(TARGET, color="k", ls="--", lw=1)
    a.set(xlabel="take-over step", ylabel="success rate", title="success (target 90 %)")
    b.set(xlabel="take-over step", ylabel="human steps / episode steps", title="human fraction (target 30 %)")
    a.legend()
    fig.suptitle("lift, unseen objects: oracle take-over, hand-back at the grasp")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "effort_bound.json"))
    args = ap.parse_args()
    arms = ("franka", "widowx", "yumi")
    results = {arm: effort_bound("lift", arm, "test", seeds=range(args.episodes)) for arm in arms}
    out = {
        "target_human_fraction": TARGET,
        "bound_human_fraction": {arm: r["bound_human_fraction"] for arm, r in results.items()},
        "bound_over_target": {arm: (r["bound_human_fraction"] or 1.0) / TARGET for arm, r in results.items()},
        "per_arm": results,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    plot(results, path.with_suffix(".png"))
    print(json.dumps({k: out[k] for k in ("target_human_fraction", "bound_human_fraction", "bound_over_target")},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
