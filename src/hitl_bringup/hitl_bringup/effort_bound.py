"""How little human effort any help gate could need on lift's unseen objects: an oracle bound.

The demo's target (assisted success >= 90 % with <= 30 % of the steps driven by the human) depends
on the simulator as much as on the gate: an unseen object is grasped somewhere else than the
training cube, often a quarter turn away, and the arm turns at most ``max_angular_speed``. This
module measures the best case for that task: a robot that behaves exactly like the training data
(the scripted expert grasping every object like the cube), a human (the scripted expert) who takes
over at step ``s`` -- the same ``s`` for every episode, swept -- and hands back the moment the
sub-task the robot cannot do is done (the task's next milestone: lift's object is grasped), earlier than any score-based
hand-back. No gate, score or threshold is involved, so the best row over ``s`` is a lower bound on
the human step fraction of any gate whose robot is no better than the training behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

# task -> options of the scripted expert that reproduce the training behaviour (the "robot")
SUPPORTED: dict[str, dict] = {"lift": {"cube_only": True}}


@dataclass
class SwitchRow:
    switch_step: int
    success_rate: float
    human_steps_mean: float
    episode_steps_mean: float
    human_fraction: float  # sum of human steps / sum of episode steps (like the demo's summary)


def sweep(task: str = "lift", arm: str = "franka", variant: str = "test", seeds: Iterable[int] = range(30),
          switch_steps: Iterable[int] = range(0, 40, 2)) -> list[SwitchRow]:
    """One row per switch step: every episode of ``seeds`` run with that take-over step."""
    from hitl_sim import make_env, make_expert

    if task not in SUPPORTED:
        raise ValueError(f"effort bound is defined for {sorted(SUPPORTED)}, not {task!r}")
    robot_opts = SUPPORTED[task]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    robot, human = make_expert(task, **robot_opts), make_expert(task)
    rows = []
    for s in switch_steps:
        n = len(seeds)
        env = make_env(task, arm=arm, num_envs=n, variant=variant, seed=0)
        obs = env.reset(np.arange(n), seeds)
        done, length = np.zeros(n, bool), np.zeros(n, int)
        human_steps, success = np.zeros(n, int), np.zeros(n, bool)
        t, at_switch = 0, None
        while not done.all():
            state = env.get_state()
            reached = human.milestones(state)  # the human hands back when this count rises
            if t == s:
                at_switch = reached.copy()
            humans = (t >= s) & (reached <= at_switch) if at_switch is not None else np.zeros(n, bool)
            action = np.where(humans[:, None], human.act(state, obs), robot.act(state, obs))
            human_steps += humans & ~done
            obs, info = env.step(action)
            t += 1
            ended = info["done"] & ~done
            length[ended], success[ended] = env.t[ended], info["success"][ended]
            done |= info["done"]
        rows.append(SwitchRow(int(s), float(success.mean()), float(human_steps.mean()), float(length.mean()),
                              float(human_steps.sum() / max(1, length.sum()))))
    return rows


def bound(rows: list[SwitchRow], min_success: float = 0.9) -> SwitchRow | None:
    """The row with the least human fraction among those at or above ``min_success`` (None if none)."""
    ok = [r for r in rows if r.success_rate >= min_success - 1e-9]
    return min(ok, key=lambda r: r.human_fraction) if ok else None


def effort_bound(task: str = "lift", arm: str = "franka", variant: str = "test", seeds: Iterable[int] = range(30),
                 switch_steps: Iterable[int] = range(0, 40, 2), min_success: float = 0.9) -> dict:
    """The sweep and its bound as plain data (JSON-ready)."""
    seeds = list(seeds)
    rows = sweep(task, arm, variant, seeds, switch_steps)
    best = bound(rows, min_success)
    return {
        "task": task, "arm": arm, "variant": variant, "episodes": len(seeds), "min_success": min_success,
        "rows": [asdict(r) for r in rows],
        "bound_human_fraction": None if best is None else best.human_fraction,
        "bound_switch_step": None if best is None else best.switch_step,
    }
