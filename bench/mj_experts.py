"""Scripted-expert success and stepping cost on the robosuite MuJoCo tasks (hitl_sim/mj/robosuite_tasks).

python bench/mj_experts.py --task lift --arm franka --variant test --episodes 200 [--noise 0.0] [--style S]
Prints one JSON line per cell (success rate, failures by kind, mean steps, ms per control step) and
appends it to --out (default bench/results/mj_experts.jsonl).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import hitl_sim.mj.robosuite_tasks  # noqa: F401  (GL backend before mujoco loads)
import numpy as np
from hitl_sim.arms import load_arm_profile
from hitl_sim.mj import expert_class, task_class
from hitl_sim.mj.vec import MjVecEnv
from tqdm import tqdm


def run_cell(task: str, arm_name: str, variant: str, episodes: int, seed: int, noise: float, style) -> dict:
    arm = load_arm_profile(arm_name)
    cls = task_class(task)
    env = MjVecEnv(lambda: cls(arm, variant), arm, num_envs=1, seed=seed)
    expert = expert_class(task)(style=style, noise=noise, seed=seed)
    wins, fails, steps, step_time, n_steps = 0, 0, [], 0.0, 0
    failed_seeds = []
    for ep in tqdm(range(episodes), desc=f"{task}/{arm_name}/{variant}", mininterval=5):
        env.reset(ids=[0], seeds=[seed * 100000 + ep])
        while not env.done[0]:
            a = expert.act(env.get_state())
            t0 = time.perf_counter()
            env.step(a)
            step_time += time.perf_counter() - t0
            n_steps += 1
        wins += bool(env.success[0])
        fails += bool(env.failed[0])
        steps.append(int(env.t[0]))
        if not env.success[0]:
            failed_seeds.append(seed * 100000 + ep)
        tqdm.write(f"episode {ep}: {'success' if env.success[0] else 'failed' if env.failed[0] else 'timeout'} "
                   f"in {int(env.t[0])} steps ({wins}/{ep + 1} so far)")
    env.close()
    return dict(task=task, arm=arm_name, variant=variant, episodes=episodes, success=wins / episodes,
                failed=fails, timeouts=episodes - wins - fails, mean_steps=float(np.mean(steps)),
                ms_per_step=1000 * step_time / max(n_steps, 1), noise=noise, style=style, seed=seed,
                unsuccessful_seeds=failed_seeds[:20])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--task", required=True)
    p.add_argument("--arm", default="franka")
    p.add_argument("--variant", default="train")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--style", type=int, default=None)
    p.add_argument("--out", default="bench/results/mj_experts.jsonl")
    a = p.parse_args()
    res = run_cell(a.task, a.arm, a.variant, a.episodes, a.seed, a.noise, a.style)
    print(json.dumps(res))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
