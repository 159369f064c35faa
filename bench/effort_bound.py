"""Oracle bounds on human effort for lift's unseen objects, per arm (see hitl_bringup.effort_bound).

    .venv/bin/python bench/effort_bound.py [--episodes 30] [--out bench/results/effort_bound.json]

For every take-over step s a training-like robot (the expert grasping every object like the cube)
drives until s, the scripted human until the object is grasped, the robot again after. Reported per
arm: the least human steps per episode (best s per episode), the least human fraction with one s
for all episodes, and the least fraction with a per-episode s at >= 90 % success, with the episode
length each needs. Writes the JSON and a plot of success and human fraction against s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_sim", "hitl_policy", "hitl_bringup"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from hitl_bringup.effort_bound import effort_bound  # noqa: E402
from tqdm import tqdm  # noqa: E402

TARGET = 0.30  # the demo's human step fraction target


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, r in results.items():
        s = [row["switch_step"] for row in r["rows"]]
        a.plot(s, [row["success_rate"] for row in r["rows"]], lw=1.2, label=arm)
        (line,) = b.plot(s, [row["human_fraction"] for row in r["rows"]], lw=1.2, label=f"{arm}: one step for all")
        if r["least_fraction"]:
            b.axhline(r["least_fraction"]["human_fraction"], ls=":", lw=1.2, color=line.get_color(),
                      label=f"{arm}: per-episode step, episodes "
                            f"{r['least_fraction']['episode_steps_mean']:.0f} steps long")
    a.axhline(0.9, color="k", ls="--", lw=1)
    b.axhline(TARGET, color="k", ls="--", lw=1)
    a.set(xlabel="take-over step", ylabel="success rate", title="success (target 90 %)")
    b.set(xlabel="take-over step", ylabel="human steps / episode steps", title="human fraction (target 30 %)")
    a.legend()
    b.legend(fontsize=7)
    fig.suptitle("lift, unseen objects: training-like robot, oracle take-over, hand-back at the grasp")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "effort_bound.json"))
    args = ap.parse_args()
    arms = ("franka", "widowx", "yumi")
    results = {arm: effort_bound("lift", arm, "test", seeds=range(args.episodes))
               for arm in tqdm(arms, desc="effort bound")}

    def pick(key: str, field: str) -> dict:
        return {arm: (r[key] or {}).get(field) for arm, r in results.items()}

    out = {
        "target_human_fraction": TARGET,
        "least_human_steps_mean": pick("least_human_steps", "human_steps_mean"),
        "least_human_steps_episode_steps": pick("least_human_steps", "episode_steps_mean"),
        "least_human_steps_fraction": pick("least_human_steps", "human_fraction"),
        "fixed_step_human_fraction": pick("fixed_step", "human_fraction"),
        "fixed_step_over_target": {arm: (v or 1.0) / TARGET for arm, v in pick("fixed_step", "human_fraction").items()},
        "least_fraction": pick("least_fraction", "human_fraction"),
        "least_fraction_episode_steps": pick("least_fraction", "episode_steps_mean"),
        "never_helped_episode_steps": {arm: (r["never"] or {}).get("episode_steps_mean") for arm, r in results.items()},
        "per_arm": results,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    plot(results, path.with_suffix(".png"))
    print(json.dumps({k: v for k, v in out.items() if k != "per_arm"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
