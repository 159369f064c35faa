"""Shared pieces of the robosuite tasks: the MjTask base, object poses, scene items, rendering.

A ``RobosuiteTask`` owns one robosuite environment (built once, ``hard_reset=False``) and an
``ArmAdapter`` (arm_control.py). ``reset(rng)`` resets robosuite, then places the task's objects
itself from ``rng`` (robosuite's own samplers are not used, so a seed fixes the episode).
"""

from __future__ import annotations

import math
import os
from typing import ClassVar

import numpy as np
from scipy.spatial.transform import Rotation

from hitl_sim.arms import ArmProfile
from hitl_sim.core import SceneItem, ee_names
from hitl_sim.mj.base import MjTask
from hitl_sim.mj.robosuite_tasks.arm_control import ArmAdapter, make_suite_env, mat_to_quat_xyzw

_GEOM_BOX, _GEOM_CYL, _GEOM_SPHERE, _GEOM_CAPSULE = 6, 5, 2, 3
# where objects start, per arm (base frame): centre (x, y) and half extents, inside what the task arm
# reaches top-down at table height (YuMi: its left arm, in front of its left shoulder)
OBJECT_REGION: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "franka": ((0.53, 0.0), (0.07, 0.12)),
    "yumi": ((0.44, 0.18), (0.05, 0.07)),
    "widowx": ((0.30, 0.0), (0.06, 0.10)),
}


def sample_region(arm_name: str, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A start position (x, y) in the arm's object region (``scale`` widens it)."""
    (cx, cy), (hx, hy) = OBJECT_REGION[arm_name]
    return np.array([cx + scale * rng.uniform(-hx, hx), cy + scale * rng.uniform(-hy, hy)])


def state_ee_names(n_arms: int) -> list[str]:
    """End-effector columns at the end of a state vector (the kinematic simulator's names)."""
    return ["ee_" + n if n_arms == 1 else n for n in ee_names(n_arms)]


class ObjectHandle:
    """One free-floating robosuite object: its geoms, pose (base frame) and lowest point."""

    def __init__(self, task: RobosuiteTask, obj) -> None:
        m = task.env.sim.model._model
        self.obj = obj
        self.name = obj.name
        self.body = m.body(obj.root_body).id
        self.qadr = int(m.jnt_qposadr[m.joint(obj.joints[0]).id])
        self.dadr = int(m.jnt_dofadr[m.joint(obj.joints[0]).id])
        self.geoms = [g for g in range(m.ngeom) if m.body_rootid[m.geom_bodyid[g]] == self.body]
        self.collide = [g for g in self.geoms if m.geom_contype[g] or m.geom_conaffinity[g]]
        self.task = task

    @property
    def data(self):
        return self.task.env.sim.data._data

    def pos(self) -> np.ndarray:
        return self.task.adapter.to_base(np.array(self.data.xpos[self.body]))

    def rot(self) -> np.ndarray:
        return self.task.adapter.rot_to_base(np.array(self.data.xmat[self.body]).reshape(3, 3))

    def quat(self) -> np.ndarray:
        """(x, y, z, w), w >= 0, base frame."""
        return mat_to_quat_xyzw(self.rot())

    def set_pose(self, pos_base: np.ndarray, rot_base: np.ndarray) -> None:
        ad = self.task.adapter
        q = Rotation.from_matrix(ad.base_rot @ rot_base).as_quat()  # xyzw
        self.data.qpos[self.qadr : self.qadr + 7] = np.concatenate([ad.to_world(pos_base), [q[3], q[0], q[1], q[2]]])
        self.data.qvel[self.dadr : self.dadr + 6] = 0.0

    def lowest(self) -> float:
        """Lowest point of the collision geoms (base frame z; boxes, cylinders, spheres, capsules exact)."""
        m, d = self.task.env.sim.model._model, self.data
        low = np.inf
        for g in self.collide:
            r = d.geom_xmat[g].reshape(3, 3)
            s = m.geom_size[g]
            t = m.geom_type[g]
            if t == _GEOM_BOX:
                ext = float(np.abs(r[2]) @ s)
            elif t == _GEOM_CYL:
                ext = s[1] * abs(r[2, 2]) + s[0] * np.sqrt(max(0.0, 1 - r[2, 2] ** 2))
            elif t == _GEOM_CAPSULE:
                ext = s[1] * abs(r[2, 2]) + s[0]
            elif t == _GEOM_SPHERE:
                ext = s[0]
            else:
                ext = m.geom_rbound[g]
            low = min(low, d.geom_xpos[g][2] - ext)
        return float(low - self.task.adapter.table_z)

    def place(self, xy: np.ndarray, rot_base: np.ndarray, clearance: float = 0.001) -> None:
        """Rest the object at ``xy`` (base frame), orientation ``rot_base``, lowest point just above the table."""
        self.set_pose(np.array([xy[0], xy[1], 0.5]), rot_base)
        self.task.env.sim.forward()
        dz = 0.5 - self.lowest()
        self.set_pose(np.array([xy[0], xy[1], dz + clearance]), rot_base)
        self.task.env.sim.forward()

    def items(self, prefix: str) -> list[SceneItem]:
        """Scene items (boxes, cylinders, spheres) of the object's collision geoms, yaw about base z."""
        return geom_items(self.task, self.collide, prefix)


def geom_items(task: RobosuiteTask, geoms: list[int], prefix: str) -> list[SceneItem]:
    m, d = task.env.sim.model._model, task.env.sim.data._data
    ad = task.adapter
    out = []
    for g in geoms:
        t, s = m.geom_type[g], m.geom_size[g]
        r = ad.rot_to_base(d.geom_xmat[g].reshape(3, 3))
        if t == _GEOM_BOX:
            shape, size = "box", (2 * s[0], 2 * s[1], 2 * s[2])
        elif t in (_GEOM_CYL, _GEOM_CAPSULE):
            shape, size = "cylinder", (2 * s[0], 2 * s[0], 2 * s[1])
        elif t == _GEOM_SPHERE:
            shape, size = "sphere", (2 * s[0],) * 3
        else:
            continue
        # markers take a yaw only: show flat-lying cylinders/boxes by their horizontal footprint
        tilt = abs(r[2, 2]) < 0.7
        if tilt:  # the geom's long axis lies in the table plane: box of its world extents
            ext = np.abs(r) @ (np.array(size) / 2)
            shape, size, yaw = "box", tuple(2 * ext), 0.0
        else:
            yaw = float(np.arctan2(r[1, 0], r[0, 0]))
        rgba = tuple(float(c) for c in m.geom_rgba[g])
        if rgba[3] == 0 or (rgba[0] == rgba[1] == rgba[2] == 0.5):
            rgba = (0.6, 0.6, 0.65, 1.0)
        out.append(SceneItem(f"{prefix}_{len(out)}", shape, tuple(ad.to_base(d.geom_xpos[g])), size, yaw, rgba))
    return out


class RobosuiteTask(MjTask):
    """A robosuite environment behind the MjTask contract; subclasses build it and place the objects."""

    arms: ClassVar[tuple[str, ...]] = ("franka", "yumi", "widowx")
    control_steps: ClassVar[int] = 80
    env_kwargs: ClassVar[dict] = {}
    camera: ClassVar[str] = "agentview"

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.env = make_suite_env(self.env_class(), arm, **self.env_kwargs)
        self.env.reset()
        self.adapter = ArmAdapter(self.env, arm)
        self.dt = arm.dt
        # slower arms get proportionally longer episodes (the kinematic simulator's rule, docs/sim.md)
        self.max_steps = math.ceil(self.control_steps * max(1.0, 0.25 / arm.max_linear_speed))
        self.action_names = ee_names(arm.n_arms)
        self._renderer = None
        self.render_error: str | None = None

    def env_class(self) -> type:
        raise NotImplementedError

    def place_objects(self, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def reset(self, rng: np.random.Generator) -> None:
        self.env.reset()
        self.place_objects(rng)
        self.env.sim.forward()
        self.adapter.reset()

    def apply(self, action: np.ndarray) -> None:
        self.adapter.apply(action)

    def current_action(self) -> np.ndarray:
        return self.adapter.current_action()

    def finger_obs(self) -> np.ndarray:
        return np.concatenate([self.adapter.finger_qpos(k) for k in range(self.adapter.n_arms)])

    def table_item(self) -> SceneItem:
        ad = self.adapter
        full = self.env.model.mujoco_arena.table_full_size
        centre = ad.to_base(np.array(self.env.model.mujoco_arena.table_offset))
        colour = (0.55, 0.45, 0.35, 1.0)
        return SceneItem("table", "box", (centre[0], centre[1], -full[2] / 2), tuple(full), 0.0, colour)

    def render(self, width: int = 320, height: int = 240) -> np.ndarray | None:
        """Offscreen image from robosuite's ``camera`` (agentview) (MUJOCO_GL egl or osmesa), None if GL fails."""
        if self.render_error is not None:
            return None
        try:
            import mujoco

            if self._renderer is None or (self._renderer.width, self._renderer.height) != (width, height):
                self._renderer = mujoco.Renderer(self.env.sim.model._model, height, width)
            self._renderer.update_scene(self.env.sim.data._data, camera=self.camera)
            return np.array(self._renderer.render(), dtype=np.uint8)
        except Exception as e:  # no GL context here: report once, keep the task usable
            self.render_error = f"{type(e).__name__}: {e} (MUJOCO_GL={os.environ.get('MUJOCO_GL')})"
            self._renderer = None
            return None

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.env.close()
