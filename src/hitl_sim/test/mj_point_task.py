"""A tiny MuJoCo task for the backend/pool tests: a ball on two slide joints pushed toward a goal.

Deliberately small (one body, position actuators) so the pool/backend plumbing is tested without
robosuite; the real tasks are tested in their own modules.
"""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np
from hitl_sim.mj.base import MjExpert, MjTask

XML = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <body name="ball" pos="0 0 0.05">
      <joint name="x" type="slide" axis="1 0 0" damping="1"/>
      <joint name="y" type="slide" axis="0 1 0" damping="1"/>
      <geom type="sphere" size="0.02" mass="0.1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <position joint="x" kp="40" kv="4"/>
    <position joint="y" kp="40" kv="4"/>
  </actuator>
</mujoco>"""


class PointTask(MjTask):
    name: ClassVar[str] = "point"
    arms: ClassVar[tuple[str, ...]] = ("franka", "widowx", "yumi")
    n_modes: ClassVar[int] = 2

    def __init__(self, arm, variant="train"):
        super().__init__(arm, variant)
        self.model = mujoco.MjModel.from_xml_string(XML)
        self.data = mujoco.MjData(self.model)
        self.dt, self.max_steps = arm.dt, 30
        self.action_names = ["x", "y", "z", "yaw", "gripper"]
        self.obs_names = [*self.action_names, "goal_x", "goal_y"]
        self.state_names = ["goal_x", "goal_y", "mode"] + ["ee_" + n for n in self.action_names]
        self.centre = (arm.workspace_min[:2] + arm.workspace_max[:2]) / 2  # inside the arm's workspace
        self.goal = self.centre.copy()

    def reset(self, rng):
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self.centre + rng.uniform(-0.1, 0.1, 2)
        self.goal = self.centre + rng.uniform(-0.1, 0.1, 2)
        self.mode = int(rng.integers(2))
        mujoco.mj_forward(self.model, self.data)

    def apply(self, action):
        self.data.ctrl[:] = action[:2]
        mujoco.mj_step(self.model, self.data, nstep=max(1, round(self.dt / 0.005)))

    def current_action(self):
        return np.r_[self.data.qpos[:2], 0.05, 0.0, 0.0]

    def observe(self):
        return np.r_[self.current_action(), self.goal].astype(np.float32)

    def state(self):
        return np.r_[self.goal, self.mode, self.current_action()]

    def evaluate(self):
        return bool(np.linalg.norm(self.data.qpos[:2] - self.goal) < 0.005), False


class PointExpert(MjExpert):
    def act(self, state, obs=None):
        state = np.atleast_2d(state)
        out = np.zeros((len(state), 5))
        out[:, :2] = state[:, :2] + self.noise * self.rng.standard_normal((len(state), 2))
        out[:, 2] = 0.05
        return out
