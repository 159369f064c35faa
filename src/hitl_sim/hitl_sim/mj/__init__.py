"""MuJoCo tasks (robosuite, Metaworld, MJCF written here) behind the VecEnv API; see base.py for the contract.

Registry: ``MJ_TASKS`` maps a task name to "module:TaskClass:ExpertClass"; modules import lazily so
that importing hitl_sim never imports mujoco (the policy and arbiter nodes never need it).
"""

from __future__ import annotations

import ctypes.util
import glob
import importlib
import os

# name -> "module:TaskClass:ExpertClass" (filled in as tasks land)
MJ_TASKS: dict[str, str] = {
    "lift": "hitl_sim.mj.robosuite_tasks.lift:LiftTask:LiftExpert",
    "drawer_open": "hitl_sim.mj.metaworld_tasks:DrawerOpenTask:DrawerOpenExpert",
    "peg_insert": "hitl_sim.mj.metaworld_tasks:PegInsertTask:PegInsertExpert",
    "button_press": "hitl_sim.mj.metaworld_tasks:ButtonPressTask:ButtonPressExpert",
    "drawer": "hitl_sim.mj.drawer_scene:DrawerTask:DrawerExpert",
    "cup_stack": "hitl_sim.mj.cup_stack_scene:CupStackTask:CupStackExpert",
    "square": "hitl_sim.mj.robosuite_tasks.square:SquareTask:SquareExpert",
    "cube_stack": "hitl_sim.mj.robosuite_tasks.cube_stack:CubeStackTask:CubeStackExpert",
    "push": "hitl_sim.mj.planar:PushTask:PushExpert",  # fleet helper
    "nav": "hitl_sim.mj.planar:NavTask:NavExpert",  # fleet helper
}


def _choose_gl() -> None:
    """Pick MuJoCo's offscreen GL before anything imports mujoco (it reads MUJOCO_GL at import).

    EGL needs a GPU render node; on a headless CPU machine (no /dev/dri, as here) Mesa's EGL finds no
    device and OSMesa (Debian libosmesa6, installed by scripts/setup.sh) renders instead. A value the
    user set wins.
    """
    if "MUJOCO_GL" in os.environ:
        return
    if glob.glob("/dev/dri/renderD*") or os.path.exists("/dev/nvidia0"):
        gl = "egl"
    elif ctypes.util.find_library("OSMesa"):
        gl = "osmesa"
    else:
        return  # no offscreen GL: tasks' render() reports it
    os.environ["MUJOCO_GL"] = gl
    os.environ.setdefault("PYOPENGL_PLATFORM", gl)


_choose_gl()


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
