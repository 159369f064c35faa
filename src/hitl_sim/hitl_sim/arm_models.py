"""Where each arm's MuJoCo model (MJCF) lives: one kinematic model per arm, for the simulator and the real arm.

The simulator builds its robots from these files (hitl_sim/mj/robosuite_tasks/arm_control.py) and the
real-arm adapters solve IK on the same files (hitl_teleop/adapters/mj_arm.py). This module imports
neither mujoco nor robosuite: the files are found from the installed packages' locations
(``importlib.util.find_spec`` does not run a package), so an adapter needs only mujoco and mink.

- widowx: the WidowX 250 6-DoF MJCF written here (hitl_sim/mj/widowx/robot.xml);
- franka: robosuite's Panda (robosuite/models/assets/robots/panda/robot.xml);
- yumi: robosuite-models' Yumi (robosuite_models/assets/robots/yumi/robot.xml).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# arm profile name -> (python package holding the file, path inside it)
ARM_MJCF: dict[str, tuple[str, str]] = {
    "widowx": ("hitl_sim", "mj/widowx/robot.xml"),
    "franka": ("robosuite", "models/assets/robots/panda/robot.xml"),
    "yumi": ("robosuite_models", "assets/robots/yumi/robot.xml"),
}


def package_dir(package: str) -> Path:
    """The directory of an installed top-level package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {package!r} is not installed (requirements/python.txt, requirements/no-deps.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def mjcf_path(arm: str) -> Path:
    """The MJCF file of ``arm``'s robot (arm profile name: widowx, franka, yumi)."""
    if arm not in ARM_MJCF:
        raise ValueError(f"no MJCF for arm {arm!r}; known: {sorted(ARM_MJCF)}")
    package, rel = ARM_MJCF[arm]
    path = package_dir(package) / rel
    if not path.exists():
        raise FileNotFoundError(f"{arm}: MJCF {path} is missing from the installed {package!r}")
    return path
