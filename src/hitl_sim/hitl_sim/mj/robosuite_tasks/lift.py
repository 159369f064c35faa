"""lift (distribution shift, the diffusion paper's Lift-sim): robosuite Lift with unseen objects.

train: robosuite's red cube. test: robosuite's RoundNutObject, HammerObject and HookFrame. One model
holds every object of the variant; the ones not in play rest on the floor out of reach.
Objects start at random positions and yaws (the same distribution for every object).

Observation (what a perception stack gives): end effector (5 per arm), object position (3) and
orientation (quaternion x, y, z, w with w >= 0, base frame: robomimic's ``object`` keys; a
quaternion because a knocked object tilts, which a yaw cannot say), finger joints (2 per arm:
robomimic's ``gripper_qpos``). Never the object's identity, size or grasp point.
State (for the expert): the observation's object pose, the object type, its grasp point and yaw
(base frame, from the pose and the type's geometry), the grasp yaw's period, a grasped flag (both
finger pads touch the object), the object's lowest point, then the end effectors.
Success: grasped and the object's lowest point >= 5 cm above the table. Failure: off the table.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from robosuite.environments.manipulation.lift import Lift as SuiteLift
from robosuite.models.arenas import TableArena
from robosuite.models.objects import BoxObject, HammerObject, HookFrame, RoundNutObject
from robosuite.models.tasks import ManipulationTask
from scipy.spatial.transform import Rotation

from hitl_sim.core import SceneItem
from hitl_sim.mj.base import MjExpert
from hitl_sim.mj.robosuite_tasks.arm_control import rot_z, yaw_of_axis
from hitl_sim.mj.robosuite_tasks.common import ObjectHandle, RobosuiteTask, sample_region, state_ee_names
from hitl_sim.mj.robosuite_tasks.pick import choose_yaw, hand_noise, hold, pick_step

CUBE, ROUND_NUT, HAMMER, HOOK = range(4)
OBJECT_NAMES = ("cube", "round_nut", "hammer", "hook_frame")
VARIANT_TYPES = {"train": (CUBE,), "test": (ROUND_NUT, HAMMER, HOOK)}
LIFT_SUCCESS = 0.05  # lowest point above the table (m)
LIFT_Z = 0.15  # the expert lifts the grasp point to this height
# flat-lying orientation of each type (local -> base before the random yaw)
REST_ROT = {
    CUBE: np.eye(3),
    ROUND_NUT: np.eye(3),
    HAMMER: Rotation.from_euler("y", 90, degrees=True).as_matrix(),  # handle (local z) along base x
    HOOK: Rotation.from_euler("x", 90, degrees=True).as_matrix(),  # the L (local xz plane) flat
}


class LiftSuiteEnv(SuiteLift):
    """robosuite Lift whose model holds the variant's objects (the cube keeps robosuite's own size)."""

    def __init__(self, *args, object_types: tuple[int, ...] = (CUBE,), **kwargs) -> None:
        self.object_types = object_types
        super().__init__(*args, **kwargs)

    def _load_model(self) -> None:
        from robosuite.environments.manipulation.manipulation_env import ManipulationEnv

        ManipulationEnv._load_model(self)
        self.robots[0].robot_model.set_base_xpos(self.robots[0].robot_model.base_xpos_offset["table"](
            self.table_full_size[0]))
        arena = TableArena(table_full_size=self.table_full_size, table_friction=self.table_friction,
                           table_offset=self.table_offset)
        arena.set_origin([0, 0, 0])
        rng = np.random.default_rng(7)  # fixed hammer dimensions
        make = {
            CUBE: lambda: BoxObject(name="cube", size_min=[0.021] * 3, size_max=[0.021] * 3, rgba=[1, 0, 0, 1]),
            ROUND_NUT: lambda: RoundNutObject(name="round_nut"),
            HAMMER: lambda: HammerObject(name="hammer", handle_radius=0.014, handle_length=0.16,
                                         handle_density=150, handle_friction=4.0, rng=rng),
            HOOK: lambda: HookFrame(name="hook_frame", frame_length=0.2, frame_height=0.12, frame_thickness=0.02,
                                    density=500.0),
        }
        self.lift_objects = {t: make[t]() for t in self.object_types}
        self.cube = self.lift_objects[self.object_types[0]]  # robosuite Lift's references use .cube
        self.model = ManipulationTask(mujoco_arena=arena, mujoco_robots=[r.robot_model for r in self.robots],
                                      mujoco_objects=list(self.lift_objects.values()))

    def _reset_internal(self) -> None:  # objects are placed by the task from its own generator
        from robosuite.environments.manipulation.manipulation_env import ManipulationEnv

        ManipulationEnv._reset_internal(self)


class LiftTask(RobosuiteTask):
    name = "lift"
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    control_steps = 80

    def __init__(self, arm, variant: str = "train") -> None:
        self.types = VARIANT_TYPES.get(variant, ())
        self.env_kwargs = dict(object_types=self.types, use_object_obs=False)
        super().__init__(arm, variant)
        self.objects = {t: ObjectHandle(self, self.env.lift_objects[t]) for t in self.types}
        self.type = self.types[0]
        n = arm.n_arms
        fingers = [f"{p}finger_{i}" for p in (["left_", "right_"] if n == 2 else [""]) for i in range(2)]
        self.obs_names = [*self.action_names, "obj_x", "obj_y", "obj_z", "obj_qx", "obj_qy", "obj_qz", "obj_qw",
                          *fingers]
        self.state_names = [
            "obj_x", "obj_y", "obj_z", "obj_qx", "obj_qy", "obj_qz", "obj_qw", "obj_type",
            "grasp_x", "grasp_y", "grasp_z", "grasp_yaw", "grasp_period", "grasped", "obj_lowest",
            *state_ee_names(n)]

    def env_class(self) -> type:
        return LiftSuiteEnv

    @property
    def obj(self) -> ObjectHandle:
        return self.objects[self.type]

    def place_objects(self, rng: np.random.Generator) -> None:
        self.type = self.types[int(rng.integers(len(self.types)))]
        xy = sample_region(self.arm.name, rng)
        yaw = rng.uniform(-np.pi, np.pi)
        self.set_object(self.type, xy, yaw)

    def set_object(self, typ: int, xy: np.ndarray, yaw: float) -> None:
        """Put object ``typ`` flat at ``xy`` (base frame) with ``yaw``; park the others off the table."""
        self.type = typ
        for k, (t, h) in enumerate(self.objects.items()):
            if t != typ:
                h.place(np.array([-0.3 - 0.35 * k, 0.9]), REST_ROT[t])  # behind the robot, on the floor
        self.obj.place(xy, rot_z(yaw) @ REST_ROT[typ])
        self.env.sim.forward()
        self.adapter.reset()

    # -------------------------------------------------------------- grasp geometry
    def grasp(self) -> tuple[np.ndarray, float, float]:
        """Grasp point (base frame, z clipped to the workspace floor), gripper yaw, yaw period."""
        h = self.obj
        r, p = h.rot(), h.pos()
        m = self.env.sim.model._model
        if self.type == CUBE:
            local, axis, period = np.zeros(3), np.array([1.0, 0, 0]), np.pi / 2
        elif self.type == ROUND_NUT:
            local, axis, period = np.array([0.068, 0, 0]), np.array([0, 1.0, 0]), np.pi
        elif self.type == HAMMER:
            com = m.body_ipos[h.body]
            half = 0.16 / 2 - 0.03
            local = np.array([0, 0, float(np.clip(com[2], -half, half))])
            # the handle's local axis (x or y) lying most horizontally: fingers close across it
            axis = min((np.array([1.0, 0, 0]), np.array([0, 1.0, 0])), key=lambda a: abs((r @ a)[2]))
            period = np.pi
        else:  # hook frame: the long bar (local x at z = (H - t) / 2), across it, near the centre of mass
            com = m.body_ipos[h.body]
            local = np.array([float(np.clip(com[0], -0.07, 0.07)), 0, (0.12 - 0.02) / 2])
            axis, period = np.array([0, 0, 1.0]), np.pi
        g = p + r @ local
        g[2] = max(g[2], float(self.arm.workspace_min[2]))
        return g, yaw_of_axis(r @ axis), period

    # ----------------------------------------------------------------- contract
    def observe(self) -> np.ndarray:
        h = self.obj
        return np.concatenate([self.current_action(), h.pos(), h.quat(), self.finger_obs()]).astype(np.float32)

    def grasped(self) -> bool:
        return self.adapter.grasping(self.obj.obj)

    def state(self) -> np.ndarray:
        h = self.obj
        g, gyaw, period = self.grasp()
        return np.concatenate([
            h.pos(), h.quat(), [self.type], g, [gyaw, period, float(self.grasped()), h.lowest()],
            self.current_action()])

    def evaluate(self) -> tuple[bool, bool]:
        h = self.obj
        p = h.pos()
        off = p[2] < -0.05 or not (0.1 < p[0] < 1.0 and abs(p[1]) < 0.45)
        return bool(self.grasped() and h.lowest() >= LIFT_SUCCESS), bool(off)

    def scene(self) -> list[SceneItem]:
        return [self.table_item(), *self.obj.items(OBJECT_NAMES[self.type])]


class LiftExpert(MjExpert):
    """Pick the object at its grasp point (from the state) and lift it; re-grasps after any slip or miss."""

    n_modes = 1

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        out = []
        for row in state:
            ee_all = row[15:]
            ee = ee_all[:5]
            g, gyaw, period, grasped = row[8:11], row[11], row[12], row[13] > 0.5
            yaw = choose_yaw(gyaw, period, ee[3])
            if grasped and ee[4] > 0.1:
                tgt = hold(ee, 1.0)
                tgt[2] = max(LIFT_Z, ee[2])
            else:
                tgt = pick_step(ee, g, yaw)
            tgt = hand_noise(tgt, ee, self.noise, self.rng)
            out.append(np.concatenate([tgt, ee_all[5:]]))  # other arms hold their pose
        return np.array(out)

    def milestones(self, state: np.ndarray) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        return (state[:, 13] > 0.5).astype(np.int64)
