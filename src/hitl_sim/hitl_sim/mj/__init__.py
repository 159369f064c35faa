"""MuJoCo tasks (robosuite, Metaworld, MJCF written here) behind the VecEnv API; see base.py for the contract.

Registry: ``MJ_TASKS`` maps a task name to "module:TaskClass:ExpertClass"; modules import lazily so
that importing hitl_sim never imports mujoco (the policy and arbiter nodes never need it).
"""

from __future__ import annotations

import importlib

# name -> "module:TaskClass:ExpertClass" (filled in as tasks land)
MJ_TASKS: dict[str, str] = {
    "lift": "hitl_sim.mj.robosuite_tasks.lift:LiftTask:LiftExpert",
    "square": "hitl_sim.mj.robosuite_tasks.square:SquareTask:SquareExpert",
    "cube_stack": "hitl_sim.mj.robosuite_tasks.cube_stack:CubeStackTask:CubeStackExpert",
    "push": "hitl_sim.mj.planar:PushTask:PushExpert",  # fleet helper
    "nav": "hitl_sim.mj.planar:NavTask:NavExpert",  # fleet helper
}


def _load(task: str) -> tuple[type, type]:
    if task not in MJ_TASKS:
        raise ValueError(f"unknown MuJoCo task {task!r}; expected one of {sorted(MJ_TASKS)}")
    module, task_cls, expert_cls = MJ_TASKS[task].split(":")
    mod = importlib.import_module(module)
    return getattr(mod, task_cls), getattr(mod, expert_cls)


def task_class(task: str) -> type:
    return _load(task)[0]


def expert_class(task: str) -> type:
    return _load(task)[1]
