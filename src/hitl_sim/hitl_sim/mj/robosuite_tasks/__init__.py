"""robosuite-based MuJoCo tasks (lift, square, cube_stack) on the shared arm adapter (arm_control.py).

Importing this package imports robosuite (and mujoco); hitl_sim.mj.MJ_TASKS loads it lazily.

Offscreen rendering: mujoco picks its GL backend when it is first imported, and robosuite forces
EGL unless MUJOCO_GL is osmesa or glx. EGL needs a GPU render device; without one (this CPU machine:
EGL fails, OSMesa works) we choose OSMesa, unless MUJOCO_GL is already set.
"""

from __future__ import annotations

import os
import sys


def _choose_gl() -> None:
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules:
        return
    gpu = os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dri/renderD128")
    backend = "egl" if gpu else "osmesa"
    os.environ["MUJOCO_GL"] = backend
    os.environ.setdefault("PYOPENGL_PLATFORM", backend)


_choose_gl()
