"""drawer (intent misalignment, the diffusion paper): a cabinet of three drawers, open the intended one.

Scene: robosuite's table and arm (the shared adapter, robosuite_tasks/arm_control.py) and the
three-drawer cabinet written here (scene_objects.py), its front facing the robot. The intended
drawer is hidden state (``n_modes = 3``, the expert's ``style`` = drawer index); demonstrations
are a third each when the intent is drawn uniformly.

Observation: end effector (5), the cabinet's pose (front-bottom centre x, y and yaw, base frame),
the three drawers' openings (m), the finger joints (2): what a camera and the arm's encoders give.
Never the intent. State: cabinet pose, openings, intent, the drawer whose handle both finger pads
touch (-1 none), then the end effector.
Success: the intended drawer open >= 12 cm. Failure: another drawer open > 5 cm.
Variants: train = cabinet 0.60 +- 0.02 m ahead, y +- 6 cm, square to the robot; test = y +- 10 cm
and yaw +- 0.2 rad.
"""

from __future__ import annotations

from typing import ClassVar

import hitl_sim.mj.robosuite_tasks  # noqa: F401  (first: picks the GL backend before robosuite imports mujoco)

# isort: split
import numpy as np
from robosuite.models.objects import MujocoXMLObject

from hitl_sim.core import SceneItem
from hitl_sim.mj.base import MjExpert
from hitl_sim.mj.robosuite_tasks.arm_control import rot_z
from hitl_sim.mj.robosuite_tasks.common import RobosuiteTask, geom_items, state_ee_names
from hitl_sim.mj.robosuite_tasks.pick import hand_noise, hold, pick_step
from hitl_sim.mj.scene_objects import CABINET, cabinet_xml
from hitl_sim.mj.table_scene import TableSceneEnv

OPEN_SUCCESS = 0.12
WRONG_OPEN = 0.05
EXPERT_OPEN = 0.15  # the expert pulls to this (past the success line)
CLOSED = 0.008  # a drawer counts as closed below this


class CabinetSuiteEnv(TableSceneEnv):
    """robosuite's table + arm with the three-drawer cabinet (no free objects)."""

    def scene_objects(self) -> list[MujocoXMLObject]:
        self.cabinet = MujocoXMLObject(cabinet_xml(), name="cabinet", joints=None, obj_type="all",
                                       duplicate_collision_geoms=True)
        return [self.cabinet]


class DrawerTask(RobosuiteTask):
    name = "drawer"
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    arms: ClassVar[tuple[str, ...]] = ("franka",)
    unsupported: ClassVar[dict[str, str]] = {
        "widowx": "cannot reach: the cabinet stands 0.60 m ahead (handles 0.45-0.60 m while pulled), the WidowX's "
                  "workspace ends at x = 0.45 m; the layout is not scaled to the arm",
        "yumi": "not adapted: the cabinet layout is sized for the Franka (0.60 m ahead, centred on the base)",
    }
    n_modes = 3
    control_steps = 120

    def __init__(self, arm, variant: str = "train") -> None:
        self.env_kwargs = dict(use_object_obs=False)
        super().__init__(arm, variant)
        m = self.env.sim.model._model
        self.cab_body = m.body(self.env.cabinet.root_body).id
        pre = self.env.cabinet.naming_prefix
        self.slide_adr = [int(m.jnt_qposadr[m.joint(f"{pre}slide{k}").id]) for k in range(3)]
        self.slide_dof = [int(m.jnt_dofadr[m.joint(f"{pre}slide{k}").id]) for k in range(3)]
        self.handle_geoms = [[m.geom(f"{pre}d{k}_{part}").id for part in ("fin", "bar")] for k in range(3)]
        self.visual_geoms = [
            g for g in range(m.ngeom)
            if m.body_rootid[m.geom_bodyid[g]] == self.cab_body and m.geom_contype[g] == 0 and m.geom_group[g] == 1
        ]
        self.intent = 0
        self.obs_names = [
            *self.action_names, "cab_x", "cab_y", "cab_yaw", "open_0", "open_1", "open_2", "finger_0", "finger_1"]
        self.state_names = ["cab_x", "cab_y", "cab_yaw", "open_0", "open_1", "open_2", "intent", "grasped",
                            *state_ee_names(arm.n_arms)]

    def env_class(self) -> type:
        return CabinetSuiteEnv

    # ------------------------------------------------------------- placement
    def place_objects(self, rng: np.random.Generator) -> None:
        test = self.variant == "test"
        x = 0.60 + rng.uniform(-0.02, 0.02)
        y = rng.uniform(-0.10, 0.10) if test else rng.uniform(-0.06, 0.06)
        yaw = rng.uniform(-0.2, 0.2) if test else 0.0
        self.intent = int(rng.integers(3))
        self.set_cabinet(x, y, yaw)

    def set_cabinet(self, x: float, y: float, yaw: float, openings=(0.0, 0.0, 0.0)) -> None:
        """Put the cabinet's front-bottom centre at (x, y) (base frame) facing the robot, drawers at ``openings``."""
        ad = self.adapter
        m = self.env.sim.model._model
        m.body_pos[self.cab_body] = ad.to_world(np.array([x, y, 0.0]))
        w = float(np.arctan2(ad.base_rot[1, 0], ad.base_rot[0, 0])) + yaw
        m.body_quat[self.cab_body] = [np.cos(w / 2), 0.0, 0.0, np.sin(w / 2)]
        self.set_openings(openings)

    def set_openings(self, openings) -> None:
        d = self.env.sim.data._data
        for k in range(3):
            d.qpos[self.slide_adr[k]] = float(openings[k])
            d.qvel[self.slide_dof[k]] = 0.0
        self.env.sim.forward()
        self.adapter.reset()

    # ---------------------------------------------------------------- views
    def cabinet_pose(self) -> np.ndarray:
        ad = self.adapter
        d = self.env.sim.data._data
        p = ad.to_base(np.array(d.xpos[self.cab_body]))
        r = ad.rot_to_base(np.array(d.xmat[self.cab_body]).reshape(3, 3))
        return np.array([p[0], p[1], float(np.arctan2(r[1, 0], r[0, 0]))])

    def openings(self) -> np.ndarray:
        q = self.env.sim.data._data.qpos
        return np.array([q[a] for a in self.slide_adr])

    def grasped(self) -> int:
        for k in range(3):
            if self.adapter.grasping(self.handle_geoms[k]):
                return k
        return -1

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.cabinet_pose(), self.openings(),
                               self.finger_obs()]).astype(np.float32)

    def state(self) -> np.ndarray:
        return np.concatenate([self.cabinet_pose(), self.openings(), [self.intent, self.grasped()],
                               self.current_action()])

    def evaluate(self) -> tuple[bool, bool]:
        op = self.openings()
        other = np.delete(op, self.intent)
        return bool(op[self.intent] >= OPEN_SUCCESS), bool(other.max() > WRONG_OPEN)

    def scene(self) -> list[SceneItem]:
        return [self.table_item(), *geom_items(self, self.visual_geoms, "cabinet")]


def handle_point(cab: np.ndarray, k: int, opening: float) -> np.ndarray:
    """Grasp point on drawer ``k``'s handle (base frame) for a cabinet pose (x, y, yaw) and an opening."""
    local = np.array([CABINET.grasp_x() - opening, CABINET.bay_y(k), CABINET.handle_z])
    return np.array([cab[0], cab[1], 0.0]) + rot_z(float(cab[2])) @ local


class DrawerExpert(MjExpert):
    """Open the intended drawer (``style``, else the state's intent); first close any other open drawer.

    From the state only: holding the handle of the drawer it works on, it pulls (or pushes) the
    handle to the goal opening; anything else is the shared stateless pick toward that handle
    (release a wrong handle, rise, travel, descend, close), so it recovers from a missed or lost
    grasp and from a half-open wrong drawer.
    """

    n_modes = 3

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        out = []
        for row in state:
            cab, op = row[0:3], row[3:6]
            intent = int(row[6]) if self.style is None else self.style
            held = int(row[7])
            ee_all = row[8:]
            ee = ee_all[:5]
            wrong = [j for j in range(3) if j != intent and op[j] > CLOSED]
            k, goal = (wrong[0], 0.0) if wrong else (intent, EXPERT_OPEN)
            yaw = float(cab[2])
            if held == k and ee[4] > 0.1:
                if goal == 0.0 and op[k] <= CLOSED / 2:
                    tgt = hold(ee, 0.0)  # closed it: let go
                else:
                    tgt = hold(ee, 1.0)
                    tgt[:3] = handle_point(cab, k, goal)
                    tgt[3] = yaw
            else:
                tgt = pick_step(ee, handle_point(cab, k, op[k]), yaw)
            tgt = hand_noise(tgt, ee, self.noise, self.rng)
            out.append(np.concatenate([tgt, ee_all[5:]]))
        return np.array(out)

    def milestones(self, state: np.ndarray) -> np.ndarray:
        """(N,) 1 while the intended drawer's handle is held."""
        state = np.atleast_2d(np.asarray(state, float))
        intent = state[:, 6] if self.style is None else np.full(len(state), self.style)
        return (state[:, 7] == intent).astype(np.int64)
