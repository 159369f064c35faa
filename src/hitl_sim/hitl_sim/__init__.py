"""hitl_sim: vectorized kinematic arms (WidowX, Franka, YuMi) with the papers' tasks and scripted experts.

env = hitl_sim.make_env("lift", arm="franka", num_envs=8, variant="test", seed=0)
expert = hitl_sim.make_expert("lift")
obs = env.reset()
obs, info = env.step(expert.act(env.get_state(), obs))
"""

from __future__ import annotations

from hitl_sim.arms import ARM_NAMES, ArmProfile, load_arm_profile
from hitl_sim.core import VecEnv
from hitl_sim.tasks import TASKS, Expert, task_class

TASK_NAMES = tuple(TASKS)


def make_env(
    task: str, arm: str | ArmProfile = "franka", num_envs: int = 1, variant: str = "train", seed: int = 0
) -> VecEnv:
    """``num_envs`` robots of ``arm`` on ``task``; robot i's generator is seeded from (seed, i)."""
    profile = arm if isinstance(arm, ArmProfile) else load_arm_profile(arm)
    return VecEnv(task_class(task)(profile), profile, num_envs=num_envs, variant=variant, seed=seed)


def make_expert(task: str, style: int | None = None, noise: float = 0.0, seed: int = 0, **opts) -> Expert:
    """Scripted expert for ``task``: ``act(state, obs) -> actions`` from the full state only.

    style: mode for multimodal tasks (drawer index, push goal, nav branch, cube_stack face pair);
    None lets the env's hidden state decide. noise: std (m) of Gaussian noise on the position
    targets. opts: lift ``cube_only=True`` grasps everything like the training cube; nav
    ``know_wind=False`` does not counter-steer (the training-variant baselines).
    """
    return Expert(task_class(task), style=style, noise=noise, seed=seed, **opts)


def collect_demos(*args, **kwargs):
    """See :func:`hitl_sim.collect.collect_demos`."""
    from hitl_sim.collect import collect_demos as _collect

    return _collect(*args, **kwargs)


__all__ = [
    "ARM_NAMES",
    "TASK_NAMES",
    "ArmProfile",
    "VecEnv",
    "collect_demos",
    "load_arm_profile",
    "make_env",
    "make_expert",
]
