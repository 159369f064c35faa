"""cup_stack (partial observability, the diffusion paper): put a small cup into a larger one.

Scene: robosuite's table and arm (robosuite_tasks/arm_control.py) and two open cups written here
(scene_objects.py): the small cup A (5.2 cm wide, 7 cm tall) and the big cup B (10 cm wide, inner
9 cm, 6.5 cm tall), both free bodies. The expert grasps A across its rim from above, carries it
over B and lets it drop in.

Occlusion: while A is held and within ``occ_radius`` (train 7 cm, test 9 cm) of B's axis in the
horizontal plane, the held cup and the hand hide B: the observation keeps B's last seen position
and sets ``occluded`` = 1. Whatever happens to B meanwhile (a bump) is not seen until A leaves.

Observation: end effector (5), A's position (3) and quaternion (x, y, z, w, base frame), B's
position as last seen (3), occluded (1), finger joints (2). State: A's pose, A's grasp point (3),
A held (both finger pads touch it), B's true position (3), B's last seen position (3), occluded,
the cups' tilts (rad), then the end effector.
Success: A released inside B (A's axis within 2 cm of B's, A's bottom within 2 cm of B's, A
upright). Failure: either cup tipped over (tilt > 45 deg) or off the table.
Variants: train = A at x 0.45-0.55, y -0.15..-0.02, B at x 0.50-0.62, y 0.04..0.15; test = B
anywhere with y -0.15..0.15 at least 14 cm from A, occlusion radius 9 cm.
"""

from __future__ import annotations

from typing import ClassVar

import hitl_sim.mj.robosuite_tasks  # noqa: F401  (first: picks the GL backend before robosuite imports mujoco)

# isort: split
import numpy as np
from robosuite.models.objects import MujocoXMLObject

from hitl_sim.core import SceneItem
from hitl_sim.mj.base import MjExpert
from hitl_sim.mj.robosuite_tasks.common import ObjectHandle, RobosuiteTask, state_ee_names
from hitl_sim.mj.robosuite_tasks.pick import hand_noise, hold, pick_step
from hitl_sim.mj.scene_objects import BIG_CUP, SMALL_CUP, cup_xml
from hitl_sim.mj.table_scene import TableSceneEnv

GRASP_BELOW_RIM = 0.02  # the grip point sits this far below A's rim
DROP_CLEARANCE = 0.015  # A's bottom this far above B's rim when released
CARRY_Z = 0.20  # travel height of the grip point while carrying
NEST_XY = 0.02
NEST_Z = 0.02
TIPPED = np.pi / 4
PLACE_XY = 0.004  # the expert releases within this of B's axis
PLACE_Z = 0.008

# state columns
A_POS, A_QUAT, A_GRASP, HELD, B_POS, B_SEEN, OCC, TILTS = (
    slice(0, 3), slice(3, 7), slice(7, 10), 10, slice(11, 14), slice(14, 17), 17, slice(18, 20))
EE = 20


class CupsSuiteEnv(TableSceneEnv):
    """robosuite's table + arm with the two cups."""

    def scene_objects(self) -> list[MujocoXMLObject]:
        self.cup_a = MujocoXMLObject(cup_xml("cup_a", SMALL_CUP, "0.3 0.75 0.35 1"), name="cup_a")
        self.cup_b = MujocoXMLObject(cup_xml("cup_b", BIG_CUP, "0.3 0.4 0.9 1", density=900.0), name="cup_b")
        return [self.cup_a, self.cup_b]


def tilt(rot: np.ndarray) -> float:
    """Angle between a body's z axis and the vertical."""
    return float(np.arccos(np.clip(rot[2, 2], -1.0, 1.0)))


class CupStackTask(RobosuiteTask):
    name = "cup_stack"
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    arms: ClassVar[tuple[str, ...]] = ("franka",)
    unsupported: ClassVar[dict[str, str]] = {
        "widowx": "cannot reach: the cups start at x 0.45-0.62 m, the WidowX's workspace ends at x = 0.45 m; "
                  "the layout is not scaled to the arm",
        "yumi": "not adapted: the cup layout is sized for the Franka (x 0.45-0.62 m, y -0.15..0.15 m)",
    }
    control_steps = 150

    def __init__(self, arm, variant: str = "train") -> None:
        self.env_kwargs = dict(use_object_obs=False)
        super().__init__(arm, variant)
        self.a = ObjectHandle(self, self.env.cup_a)
        self.b = ObjectHandle(self, self.env.cup_b)
        self.occ_radius = 0.09 if variant == "test" else 0.07
        self.b_seen = np.zeros(3)
        self.occluded = False
        self.obs_names = [
            *self.action_names, "a_x", "a_y", "a_z", "a_qx", "a_qy", "a_qz", "a_qw", "b_seen_x", "b_seen_y",
            "b_seen_z", "occluded", "finger_0", "finger_1"]
        self.state_names = [
            "a_x", "a_y", "a_z", "a_qx", "a_qy", "a_qz", "a_qw", "a_grasp_x", "a_grasp_y", "a_grasp_z", "a_held",
            "b_x", "b_y", "b_z", "b_seen_x", "b_seen_y", "b_seen_z", "occluded", "a_tilt", "b_tilt",
            *state_ee_names(arm.n_arms)]

    def env_class(self) -> type:
        return CupsSuiteEnv

    # ------------------------------------------------------------- placement
    def place_objects(self, rng: np.random.Generator) -> None:
        test = self.variant == "test"
        for _ in range(1000):
            a = np.array([rng.uniform(0.45, 0.55), rng.uniform(-0.15, -0.02)])
            b = np.array([rng.uniform(0.50, 0.62), rng.uniform(-0.15, 0.15) if test else rng.uniform(0.04, 0.15)])
            if np.linalg.norm(a - b) >= 0.14:
                break
        self.set_cups(a, b)

    def set_cups(self, a_xy: np.ndarray, b_xy: np.ndarray) -> None:
        """Both cups upright at these base-frame positions; B is seen (not occluded)."""
        self.a.place(np.asarray(a_xy, float), np.eye(3))
        self.b.place(np.asarray(b_xy, float), np.eye(3))
        self.env.sim.forward()
        self.adapter.reset()
        self.occluded = False
        self.b_seen = self.b.pos()

    # ---------------------------------------------------------------- control
    def apply(self, action: np.ndarray) -> None:
        super().apply(action)
        self.update_view()

    def update_view(self) -> None:
        """Occlusion after a tick: B hidden while A is held near it; otherwise B is seen where it is."""
        near = float(np.linalg.norm(self.a.pos()[:2] - self.b.pos()[:2])) < self.occ_radius
        self.occluded = bool(self.held() and near)
        if not self.occluded:
            self.b_seen = self.b.pos()

    # ---------------------------------------------------------------- views
    def held(self) -> bool:
        return self.adapter.grasping(self.env.cup_a)

    def grasp_point(self) -> np.ndarray:
        return self.a.pos() + self.a.rot() @ np.array([0.0, 0.0, SMALL_CUP.height - GRASP_BELOW_RIM])

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.a.pos(), self.a.quat(), self.b_seen,
                               [float(self.occluded)], self.finger_obs()]).astype(np.float32)

    def state(self) -> np.ndarray:
        return np.concatenate([
            self.a.pos(), self.a.quat(), self.grasp_point(), [float(self.held())], self.b.pos(), self.b_seen,
            [float(self.occluded), tilt(self.a.rot()), tilt(self.b.rot())], self.current_action()])

    def evaluate(self) -> tuple[bool, bool]:
        a, b = self.a.pos(), self.b.pos()
        ta, tb = tilt(self.a.rot()), tilt(self.b.rot())
        nested = (np.linalg.norm(a[:2] - b[:2]) < NEST_XY and a[2] - b[2] < NEST_Z and ta < 0.3)
        off = any(p[2] < -0.05 or not (0.1 < p[0] < 1.0 and abs(p[1]) < 0.45) for p in (a, b))
        return bool(nested and not self.held()), bool(ta > TIPPED or tb > TIPPED or off)

    def scene(self) -> list[SceneItem]:
        return [self.table_item(), *self.a.items("cup_a"), *self.b.items("cup_b")]


class CupStackExpert(MjExpert):
    """Grasp A, carry it over B's true position, release; re-grasp A wherever it was dropped (state only)."""

    n_modes = 1

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        out = []
        for row in state:
            ee_all = row[EE:]
            ee = ee_all[:5]
            a, b = row[A_POS], row[B_POS]
            held = row[HELD] > 0.5
            yaw = 0.0 if abs(ee[3]) > 1.0 else float(ee[3])  # a round cup: any yaw; keep the current one
            nested = np.linalg.norm(a[:2] - b[:2]) < NEST_XY and a[2] - b[2] < NEST_Z
            if nested and not held:
                tgt = hold(ee, 0.0)
                tgt[2] = max(ee[2], b[2] + BIG_CUP.height + SMALL_CUP.height)  # back off upward
            elif held and ee[4] > 0.1:
                place = np.array([b[0], b[1], b[2] + BIG_CUP.height + DROP_CLEARANCE + SMALL_CUP.height
                                  - GRASP_BELOW_RIM])
                tgt = hold(ee, 1.0)
                dxy = float(np.linalg.norm(ee[:2] - place[:2]))
                if dxy > 0.01:  # carry at the travel height; rise first
                    tgt[:3] = [ee[0], ee[1], CARRY_Z] if ee[2] < CARRY_Z - 0.02 else [place[0], place[1], CARRY_Z]
                else:
                    tgt[:3] = place
                    if dxy < PLACE_XY and abs(ee[2] - place[2]) < PLACE_Z:
                        tgt[4] = 0.0
            else:
                tgt = pick_step(ee, row[A_GRASP], yaw)
            tgt = hand_noise(tgt, ee, self.noise, self.rng)
            out.append(np.concatenate([tgt, ee_all[5:]]))
        return np.array(out)

    def milestones(self, state: np.ndarray) -> np.ndarray:
        """(N,) 1 while cup A is held."""
        state = np.atleast_2d(np.asarray(state, float))
        return (state[:, HELD] > 0.5).astype(np.int64)
