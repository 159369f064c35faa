"""Expert success and stepping cost of one MuJoCo task: ``python -m hitl_sim.mj.expert_check drawer --episodes 200``.

Runs the task's scripted expert (hitl_sim.mj.MJ_TASKS) through ``MjVecEnv`` with one robot and
prints one JSON line: success rate, mean/max episode length, milliseconds per ``env.step`` (the
physics and the action conversion; the expert's own time is reported separately) as wall time and
as this process's CPU time (the better "one core" figure on a shared, loaded machine), and the
build time. Metaworld tasks run on the ``sawyer`` profile, the others on ``--arm``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from tqdm import tqdm

from hitl_sim.arms import load_arm_profile
from hitl_sim.mj import MJ_TASKS, expert_class, task_class
from hitl_sim.mj.vec import MjVecEnv


def check(task: str, arm: str, variant: str, episodes: int, seed: int = 0, style: int | None = None,
          progress: bool = True) -> dict:
    cls, ecls = task_class(task), expert_class(task)
    if arm not in cls.arms:
        arm = cls.arms[0]
    profile = load_arm_profile(arm)
    t0 = time.perf_counter()
    env = MjVecEnv(lambda: cls(profile, variant), profile, num_envs=1, seed=seed)
    build_s = time.perf_counter() - t0
    expert = ecls(style=style, seed=seed)
    successes, lengths, step_s, step_cpu, act_s, steps = 0, [], 0.0, 0.0, 0.0, 0
    for _ in tqdm(range(episodes), desc=f"{task}/{arm}/{variant}", disable=not progress):
        obs = env.reset()
        info = {"success": np.zeros(1, bool), "t": np.zeros(1, np.int64)}
        while not env.done[0]:
            t1 = time.perf_counter()
            action = expert.act(env.get_state(), obs)
            t2, c2 = time.perf_counter(), time.process_time()
            obs, info = env.step(action)
            t3, c3 = time.perf_counter(), time.process_time()
            act_s += t2 - t1
            step_s += t3 - t2
            step_cpu += c3 - c2
            steps += 1
        successes += int(info["success"][0])
        lengths.append(int(info["t"][0]))
    env.close()
    return {
        "task": task, "arm": arm, "variant": variant, "episodes": episodes, "seed": seed,
        "success": successes / episodes, "mean_len": float(np.mean(lengths)), "max_len": int(max(lengths)),
        "ms_per_step": 1000 * step_s / steps, "cpu_ms_per_step": 1000 * step_cpu / steps,
        "expert_ms_per_step": 1000 * act_s / steps, "build_s": build_s,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("task", choices=sorted(MJ_TASKS))
    p.add_argument("--arm", default="franka")
    p.add_argument("--variant", default="train")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    print(json.dumps(check(a.task, a.arm, a.variant, a.episodes, a.seed, a.style, not a.no_progress)))


if __name__ == "__main__":
    main()
