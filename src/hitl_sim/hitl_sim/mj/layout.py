"""The MuJoCo tasks' observation layouts and simulated finger joints, as data (no mujoco/robosuite import).

Who needs it: the real-arm observation bridge (hitl_teleop/observation_bridge.py) must publish exactly
the vector a MuJoCo task's ``observe()`` returns, without building the environment (robosuite takes
seconds to load and pulls mujoco into a node that never simulates). The tasks build their
``obs_names`` in their own modules (robosuite_tasks/lift.py, square.py, cube_stack.py,
cup_stack_scene.py, drawer_scene.py); hitl_sim/test/test_mj_layout.py checks that these names equal
the built environments' ``obs_names`` for every task and arm here.

Layout: the end effector (``hitl_sim.core.ee_names``: x, y, z, yaw, gripper per arm), then the task's
own fields (``TASK_FIELDS``), then the finger joints (``finger_names``: 2 per end effector).
"""

from __future__ import annotations

import math

from hitl_sim.core import ee_names


def _pose(prefix: str) -> list[str]:
    """Position (3, base frame) and quaternion (x, y, z, w with w >= 0, base frame) of one free object."""
    return [f"{prefix}_{a}" for a in ("x", "y", "z", "qx", "qy", "qz", "qw")]


# task -> its own observation fields, in order (between the end effector and the fingers)
TASK_FIELDS: dict[str, list[str]] = {
    "lift": _pose("obj"),
    "square": _pose("nut"),
    "cube_stack": [*_pose("a"), *_pose("b")],
    "cup_stack": [*_pose("a"), "b_seen_x", "b_seen_y", "b_seen_z", "occluded"],
    "drawer": ["cab_x", "cab_y", "cab_yaw", "open_0", "open_1", "open_2"],
}

# arm -> per simulated finger joint (open, closed) position in metres: the robosuite gripper's joint
# ranges, ``closed`` being the end nearer 0 (as ArmAdapter.gripper reads them). Panda: robosuite's
# PandaGripper finger_joint1 / finger_joint2; WidowX: hitl_sim/mj/widowx/gripper.xml l/r_finger_joint;
# YuMi: robosuite-models' Yumi gripper joints gripper_<side>_joint and its mimic _m, both 0 .. 0.025.
SIM_FINGERS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "franka": ((0.04, 0.0), (-0.04, 0.0)),
    "widowx": ((0.037, 0.002), (-0.037, -0.002)),
    "yumi": ((0.025, 0.0), (0.025, 0.0)),
}


# arm -> yaw of the simulated gripper's home orientation (ArmAdapter.ee_yaw subtracts it; arm_control.YAW_REF)
SIM_YAW_REF: dict[str, float] = {"franka": 0.0, "widowx": 0.0, "yumi": math.pi}


def yaw_zero(arm: str, layout: str) -> float:
    """The heading of the end effector's x axis (the kinematic simulator's yaw) at yaw 0 of ``layout``:
    0 for the kinematic layout; on the MuJoCo tasks yaw 0 means fingers closing along base y (pi/2),
    plus the arm's reference (``SIM_YAW_REF``). The observation bridge reads a real pose with it and
    the arbiter turns a policy's yaw into a TCP orientation with it (hitl_teleop/tool_frame.py)."""
    if layout == "kinematic":
        return 0.0
    if layout != "mujoco":
        raise ValueError(f"unknown observation layout {layout!r}; expected mujoco or kinematic")
    return math.pi / 2 + SIM_YAW_REF[arm]


def finger_names(n_arms: int) -> list[str]:
    """The finger-joint columns: finger_0, finger_1 (one arm) or left_/right_ prefixed (two)."""
    return [f"{p}finger_{i}" for p in (["left_", "right_"] if n_arms == 2 else [""]) for i in range(2)]


def mj_obs_names(task: str, n_arms: int) -> list[str]:
    """The MuJoCo task's ``obs_names`` for an arm with ``n_arms`` end effectors (ValueError if unknown)."""
    if task not in TASK_FIELDS:
        raise ValueError(f"no real-arm observation layout for MuJoCo task {task!r}; known: {sorted(TASK_FIELDS)}")
    return [*ee_names(n_arms), *TASK_FIELDS[task], *finger_names(n_arms)]
