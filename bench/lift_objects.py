"""A diffusion policy trained on lift-train (the cube) rolled out on the cube and on each unseen object.

    .venv/bin/python bench/lift_objects.py --checkpoint runs/demo/policy.pt [--episodes 30]
        [--out bench/results/lift_objects.json]

The checkpoint is the one ``make demo`` trains (100 scripted-expert demos on MuJoCo lift-train, see
src/hitl_bringup/hitl_bringup/demo.py); no help, no operator. Episodes are seeded 0..N-1 per variant;
the test variant draws its object per episode, and the outcomes are split by the object type read
from the simulator's state (never given to the policy). The diffusion paper's Lift-sim: 100 % on
the cube, 0 % on the unseen objects.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_sim", "hitl_policy"):
    sys.path.insert(0, str(ROOT / "src" / pkg))


def rollout(policy, variant: str, episodes: int, num_envs: int, seed: int) -> list[tuple[int, bool, int]]:
    """(object type, success, steps) per episode; chunks of the policy's n_action executed open-loop."""
    import hitl_sim

    out: list[tuple[int, bool, int]] = []
    for start in range(0, episodes, num_envs):
        n = min(num_envs, episodes - start)
        env = hitl_sim.make_env("lift", "franka", num_envs=n, variant=variant, seed=seed, backend="mujoco")
        try:
            obs = env.reset(np.arange(n), seeds=np.arange(start, start + n) + 1000 * seed)
            types = np.rint(env.get_state()[:, env.state_names.index("obj_type")]).astype(int)
            hist = np.repeat(obs[:, None], policy.n_obs, 1)
            plan, k = None, policy.n_action
            while not env.done.all():
                if k >= policy.n_action:
                    plan, k = policy.predict_chunk(hist), 0
                obs, info = env.step(plan[:, k])
                k += 1
                hist = np.concatenate([hist[:, 1:], obs[:, None]], 1)
            out += [(int(types[i]), bool(info["success"][i]), int(info["t"][i])) for i in range(n)]
        finally:
            env.close()
    return out


def main(argv: list[str] | None = None) -> int:
    import torch
    from hitl_policy.registry import load_policy
    from hitl_sim.mj.robosuite_tasks.lift import OBJECT_NAMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="runs/demo/policy.pt")
    ap.add_argument("--episodes", type=int, default=30, help="episodes per variant")
    ap.add_argument("--num-envs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lift_objects.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    policy = load_policy(args.checkpoint)
    res: dict = {"checkpoint": args.checkpoint, "simulator": "mujoco", "episodes_per_variant": args.episodes,
                 "training_steps": int(policy.train_steps), "per_object": {}}
    t0 = time.monotonic()
    for variant in ("train", "test"):
        for typ, ok, steps in rollout(policy, variant, args.episodes, args.num_envs, args.seed):
            row = res["per_object"].setdefault(OBJECT_NAMES[typ], {"episodes": 0, "successes": 0, "steps": []})
            row["episodes"] += 1
            row["successes"] += int(ok)
            row["steps"].append(steps)
        print(f"{variant}: done ({time.monotonic() - t0:.0f} s)", flush=True)
    for row in res["per_object"].values():
        row["success_rate"] = row["successes"] / row["episodes"]
        row["mean_steps"] = float(np.mean(row.pop("steps")))
    res["seconds"] = round(time.monotonic() - t0, 1)
    res["paper"] = {"cube": 1.0, "unseen objects": 0.0}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    for name, row in res["per_object"].items():
        print(f"{name:12s} {row['successes']:3d}/{row['episodes']:<3d} = {row['success_rate']:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
