"""cube_stack (IIFL's heterogeneous supervisors): robosuite Stack, two grasp styles.

Put cube A (4 cm, red) on cube B (5 cm, green). A cube has two antipodal face pairs; supervisor
style 0 grasps A with the gripper yaw aligned to A's faces (fingers on A's +-y faces), style 1 turns
it +90 deg (fingers on A's +-x faces). The episode's hidden style (``face_pair``) is drawn at reset;
an expert built with ``style=None`` follows it, ``style=k`` always uses k. A's yaw is drawn in
(-pi/4, pi/4], so the two styles are two distinct wrist yaws for the same scene.
train: the arm's object region (common.py OBJECT_REGION; Franka: robosuite's +-8 cm about the
table centre is inside it); test: the region 1.5 times wider.

Observation: end effector (5 per arm), A's and B's position (3) and quaternion (4, x y z w, w >= 0),
finger joints (2 per arm); never the style. State (expert): A pose, B pose, A's yaw, the face pair,
A grasped, A's lowest point, B's top height, A on B, the grasp height (A's centre, raised to the arm's
workspace floor: the WidowX's hand stays 3 cm above the table), then the end effectors.
Success: robosuite's check (A lifted off the table, touching B, not grasped). Failure: a cube off
the table.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from robosuite.environments.manipulation.stack import Stack

from hitl_sim.core import SceneItem
from hitl_sim.mj.base import PerStateExpert
from hitl_sim.mj.robosuite_tasks.arm_control import rot_z
from hitl_sim.mj.robosuite_tasks.common import ObjectHandle, RobosuiteTask, sample_region, state_ee_names
from hitl_sim.mj.robosuite_tasks.pick import choose_yaw, hand_noise, hold, pick_step, place_tolerance

STATE = ("a_x", "a_y", "a_z", "a_qx", "a_qy", "a_qz", "a_qw", "b_x", "b_y", "b_z", "b_qx", "b_qy", "b_qz", "b_qw",
         "a_yaw", "face_pair", "grasped", "a_lowest", "b_top", "stacked", "grasp_z")
CARRY_CLEAR = 0.03  # A's lowest point this far above B's top while moving sideways
RELEASE_GAP = 0.006  # open when A's lowest point is this close above B's top
PLACE_TOL = 0.005  # A centred over B within this (m) before lowering it from the carry height ...
LOWER_TOL = 0.010  # ... and within this while lowering (A's 4 cm face then still rests wholly on B's 5 cm top)


class CubeStackTask(RobosuiteTask):
    name = "cube_stack"
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    n_modes = 2
    control_steps = 150
    env_kwargs: ClassVar[dict] = dict(use_object_obs=False)

    def __init__(self, arm, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.a = ObjectHandle(self, self.env.cubeA)
        self.b = ObjectHandle(self, self.env.cubeB)
        self.face_pair = 0
        n = arm.n_arms
        fingers = [f"{p}finger_{i}" for p in (["left_", "right_"] if n == 2 else [""]) for i in range(2)]
        self.obs_names = [*self.action_names, *STATE[:14], *fingers]
        self.state_names = [*STATE, *state_ee_names(n)]

    def env_class(self) -> type:
        return Stack

    def place_objects(self, rng: np.random.Generator) -> None:
        scale = 1.5 if self.variant == "test" else 1.0
        for _ in range(1000):
            a = sample_region(self.arm.name, rng, scale)
            b = sample_region(self.arm.name, rng, scale)
            if np.linalg.norm(a - b) >= 0.09:
                break
        self.a.place(a, rot_z(rng.uniform(-np.pi / 4, np.pi / 4)))
        self.b.place(b, rot_z(rng.uniform(-np.pi / 4, np.pi / 4)))
        self.face_pair = int(rng.integers(2))

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.a.pos(), self.a.quat(), self.b.pos(), self.b.quat(),
                               self.finger_obs()]).astype(np.float32)

    def state(self) -> np.ndarray:
        r = self.a.rot()
        b_top = self.b.lowest() + 2 * float(self.env.cubeB.size[2])
        return np.concatenate([
            self.a.pos(), self.a.quat(), self.b.pos(), self.b.quat(),
            [float(np.arctan2(r[1, 0], r[0, 0])), self.face_pair, float(self.adapter.grasping(self.a.obj)),
             self.a.lowest(), b_top, float(self.env.check_contact(self.env.cubeA, self.env.cubeB)),
             max(float(self.a.pos()[2]), float(self.arm.workspace_min[2]))],
            self.current_action()])

    def evaluate(self) -> tuple[bool, bool]:
        off = any(p[2] < -0.05 or not (0.1 < p[0] < 1.0 and abs(p[1]) < 0.45) for p in (self.a.pos(), self.b.pos()))
        return bool(self.env._check_success()), bool(off)

    def scene(self) -> list[SceneItem]:
        return [self.table_item(), *self.a.items("cube_a"), *self.b.items("cube_b")]


class CubeStackExpert(PerStateExpert):
    """Grasp A with the style's face pair, carry it over B, lower, let go, back off; re-grasps after any drop."""

    n_modes = 2
    IDX: ClassVar[dict[str, int]] = {n: i for i, n in enumerate(STATE)}

    def _act_one(self, row: np.ndarray) -> np.ndarray:
        i = self.IDX
        ee_all = row[len(STATE):]
        ee = ee_all[:5]
        a, b = row[i["a_x"]:i["a_x"] + 3], row[i["b_x"]:i["b_x"] + 3]
        style = int(row[i["face_pair"]]) if self.style is None else self.style
        grasped = row[i["grasped"]] > 0.5 and ee[4] > 0.1
        lowest, b_top = row[i["a_lowest"]], row[i["b_top"]]
        on_b = row[i["stacked"]] > 0.5 and lowest > b_top - 0.01 and np.linalg.norm(a[:2] - b[:2]) < 0.03
        if on_b and not grasped:
            tgt = hold(ee, 0.0)  # stacked: let go and back off upward
            if ee[4] < 0.3:
                tgt[2] = max(ee[2], min(ee[2] + 0.05, 0.25))
        elif grasped:
            tgt = self._carry(ee, a, b, lowest, b_top)
        else:
            yaw = choose_yaw(row[i["a_yaw"]] + style * np.pi / 2, np.pi, ee[3])
            tgt = pick_step(ee, np.array([a[0], a[1], row[i["grasp_z"]]]), yaw)
            tgt[2] = max(tgt[2], 0.0)
        tgt = hand_noise(tgt, ee, self.noise, self.rng)
        return np.concatenate([tgt, ee_all[5:]])

    @staticmethod
    def _carry(ee, a, b, lowest, b_top) -> np.ndarray:
        tgt = hold(ee, 1.0)
        want_xy = b[:2] + (ee[:2] - a[:2])
        exy = float(np.linalg.norm(a[:2] - b[:2]))
        safe = ee[2] + (b_top + CARRY_CLEAR - lowest)
        if exy > place_tolerance(lowest, b_top, CARRY_CLEAR, PLACE_TOL, LOWER_TOL):
            if lowest < b_top + 0.01 and exy > 0.02:  # too low to move sideways: rise first
                tgt[2] = safe + 0.01
            else:
                tgt[:2] = want_xy
                tgt[2] = max(safe, ee[2] - 0.01)
            return tgt
        tgt[:2] = want_xy
        if lowest > b_top + RELEASE_GAP:
            tgt[2] = ee[2] - min(0.02, lowest - b_top)
        else:
            tgt[4] = 0.0
        return tgt

    def milestones(self, state: np.ndarray) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        i = self.IDX
        return (state[:, i["grasped"]] > 0.5).astype(np.int64)
