"""hitl_sim: the papers' tasks on MuJoCo (the simulator of record) and the kinematic test fixture.

env = hitl_sim.make_env("lift", arm="franka", num_envs=8, variant="test", seed=0)
expert = hitl_sim.make_expert("lift")
obs = env.reset()
obs, info = env.step(expert.act(env.get_state(), obs))

Two backends behind one API (reset/step/observe/get_state/current_action/scene):
- "mujoco" (hitl_sim.mj): robosuite, Metaworld and MJCF scenes written here. The default for every
  task registered in ``hitl_sim.mj.MJ_TASKS``; mujoco is imported only when such an env is made.
- "kinematic" (hitl_sim.core + hitl_sim.tasks): the earlier point-gripper simulator with rule-based
  grasps; fast, kept as a unit-test fixture and for tasks without a MuJoCo model. No result is
  reported on it.
"""

from __future__ import annotations

from hitl_sim.arms import ARM_NAMES, ArmProfile, load_arm_profile
from hitl_sim.core import VecEnv
from hitl_sim.mj import MJ_TASKS
from hitl_sim.tasks import TASKS, Expert, task_class

TASK_NAMES = tuple(TASKS)  # kinematic tasks (see task_names() for either backend)
BACKENDS = ("mujoco", "kinematic")


def task_names(backend: str = "mujoco") -> tuple[str, ...]:
    """Tasks a backend has: 'mujoco' (registered in hitl_sim.mj.MJ_TASKS) or 'kinematic'."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    return tuple(MJ_TASKS) if backend == "mujoco" else TASK_NAMES


def resolve_backend(task: str, backend: str | None = None) -> str:
    """'mujoco' or 'kinematic' for ``task``: None / '' / 'auto' = MuJoCo where the task has a model."""
    if backend in (None, "", "auto"):
        if task in MJ_TASKS:
            return "mujoco"
        if task in TASKS:
            return "kinematic"
        raise ValueError(f"unknown task {task!r}; MuJoCo tasks {sorted(MJ_TASKS)}, kinematic tasks {sorted(TASKS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS} or 'auto'")
    names = MJ_TASKS if backend == "mujoco" else TASKS
    if task not in names:
        raise ValueError(f"unknown task {task!r} for the {backend} backend; its tasks: {sorted(names)}")
    return backend


def make_env(
    task: str,
    arm: str | ArmProfile = "franka",
    num_envs: int = 1,
    variant: str = "train",
    seed: int = 0,
    backend: str | None = None,
    workers: int = 0,
):
    """``num_envs`` robots of ``arm`` on ``task``; robot i's generator is seeded from (seed, i).

    backend: 'mujoco', 'kinematic' or None (MuJoCo where the task has a model). workers (MuJoCo
    only): > 1 steps the robots in that many worker processes (hitl_sim.mj.pool), with the same
    results as in this process for the same seed.
    """
    profile = arm if isinstance(arm, ArmProfile) else load_arm_profile(arm)
    if resolve_backend(task, backend) == "mujoco":
        from hitl_sim.mj.pool import make_mj_env

        return make_mj_env(task, profile, num_envs=num_envs, variant=variant, seed=seed, workers=workers)
    return VecEnv(task_class(task)(profile), profile, num_envs=num_envs, variant=variant, seed=seed)


def make_expert(
    task: str, style: int | None = None, noise: float = 0.0, seed: int = 0, backend: str | None = None, **opts
):
    """Scripted expert for ``task``: ``act(state, obs) -> actions`` from the full state only.

    style: mode for multimodal tasks (drawer index, push goal, nav branch, cube_stack face pair);
    None lets the env's hidden state decide. noise: std (m) of Gaussian noise on the position
    targets. opts: task-specific (kinematic lift ``cube_only=True`` grasps everything like the
    training cube; nav ``know_wind=False`` does not counter-steer). backend: as in ``make_env``;
    the expert must come from the same backend as the env it drives.
    """
    if resolve_backend(task, backend) == "mujoco":
        from hitl_sim.mj import expert_class

        return expert_class(task)(style=style, noise=noise, seed=seed, **opts)
    return Expert(task_class(task), style=style, noise=noise, seed=seed, **opts)


def collect_demos(*args, **kwargs):
    """See :func:`hitl_sim.collect.collect_demos`."""
    from hitl_sim.collect import collect_demos as _collect

    return _collect(*args, **kwargs)


__all__ = [
    "ARM_NAMES",
    "BACKENDS",
    "TASK_NAMES",
    "ArmProfile",
    "VecEnv",
    "collect_demos",
    "load_arm_profile",
    "make_env",
    "make_expert",
    "resolve_backend",
    "task_names",
]
