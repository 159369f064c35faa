"""WidowX 250 6-DoF as a robosuite robot ("WidowX250") with its parallel gripper ("WidowXGripper").

Importing this module registers both with robosuite (as robosuite_models does for Yumi), so any
robosuite environment takes ``robots="WidowX250"``. The MJCF (robot.xml, gripper.xml here) is
written from the dimensions in src/hitl_teleop/hitl_teleop/config/kinematics/wx250s.urdf; the real
arm's adapter solves its IK on this same file (hitl_sim/arm_models.py, hitl_teleop/adapters/widowx.py),
so sim and robot share one kinematic model.

What it approximates (honest list):
- geometry: capsules and boxes along the joint-to-joint segments, not Interbotix's meshes (no
  package here ships them); collisions are therefore coarser than the real links;
- dynamics: link masses are round estimates (about 1.9 kg for the arm), inertias come from the
  geoms, the Dynamixel servos are ideal torque motors limited to the URDF's effort values, with no
  backlash, compliance or servo PID; robosuite's OSC computes the torques;
- gripper: two slide fingers with flat pads, 0.074 m maximum opening (the arm profile's
  gripper_max_width); the real one is a rack-and-pinion with a single servo. The fingers reach
  0.043 m past the fingers link, 15 mm past ee_gripper_link (the hand point), as the real fingers'
  contact points do (0.042 m in Interbotix's published finger geometry), so a hand held at the
  profile's 3 cm floor still closes on 2 cm-thick flat objects (the round nut, the hook frame);
- mounting: the base sits on the table top ``BASE_FROM_TABLE_EDGE`` from the table's back edge
  (the real arm is clamped to the table); no mount model.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
from robosuite.models.grippers import register_gripper
from robosuite.models.grippers.gripper_model import GripperModel
from robosuite.models.robots.manipulators.manipulator_model import ManipulatorModel
from robosuite.robots import register_robot_class

from hitl_sim.arm_models import mjcf_path

HERE = Path(__file__).resolve().parent
BASE_FROM_TABLE_EDGE = 0.10  # m: base centre in from the table's back edge
TABLE_HEIGHT = 0.8  # robosuite's TableArena top
# joints: waist, shoulder, elbow, forearm_roll, wrist_angle, wrist_rotate; the gripper points down
# about 0.30 m in front of the base and 0.20 m above the table (the arm profile's home)
INIT_QPOS = np.array([0.0, 0.001, 0.007, 0.0, 1.5628, 0.0])


@register_robot_class("FixedBaseRobot")
class WidowX250(ManipulatorModel):
    """Interbotix WidowX 250 6-DoF (see the module docstring for what the model approximates)."""

    arms: ClassVar[list[str]] = ["right"]

    def __init__(self, idn=0):
        super().__init__(str(mjcf_path("widowx")), idn=idn)

    @property
    def default_base(self):
        return "NullMount"

    @property
    def default_gripper(self):
        return {"right": "WidowXGripper"}

    @property
    def default_controller_config(self):
        return {"right": "default_panda"}

    @property
    def init_qpos(self):
        return INIT_QPOS.copy()

    @property
    def base_xpos_offset(self):
        return {
            "bins": (-0.35, -0.1, TABLE_HEIGHT),
            "empty": (-0.3, 0, TABLE_HEIGHT),
            "table": lambda table_length: (-table_length / 2 + BASE_FROM_TABLE_EDGE, 0, TABLE_HEIGHT),
        }

    @property
    def top_offset(self):
        return np.array((0, 0, 0.4))

    @property
    def _horizontal_radius(self):
        return 0.3

    @property
    def arm_type(self):
        return "single"


@register_gripper
class WidowXGripper(GripperModel):
    """Parallel gripper, one action: -1 opens, +1 closes (robosuite's convention), at ``speed`` per step."""

    def __init__(self, idn=0):
        super().__init__(str(HERE / "gripper.xml"), idn=idn)

    def format_action(self, action):
        assert len(action) == 1
        # left finger closes toward its lower limit, right toward its upper one (ctrl -1 .. 1 -> range)
        self.current_action = np.clip(
            self.current_action + np.array([-1.0, 1.0]) * self.speed * np.sign(action), -1.0, 1.0
        )
        return self.current_action

    @property
    def init_qpos(self):
        return np.array([0.037, -0.037])

    @property
    def speed(self):
        return 0.2

    @property
    def dof(self):
        return 1

    @property
    def _important_geoms(self):
        return {
            "left_finger": ["l_finger_g0", "l_fingerpad_g0"],
            "right_finger": ["r_finger_g0", "r_fingerpad_g0"],
            "left_fingerpad": ["l_fingerpad_g0"],
            "right_fingerpad": ["r_fingerpad_g0"],
        }
