"""square (the bottleneck task of IWR and ThriftyDAgger): robosuite NutAssemblySquare.

Pick the square nut by its handle and put it over the square peg. The nut starts where robosuite's
sampler puts it (world x in [-0.115, -0.11], y in [0.11, 0.225]: 0.45 m in front of the base, to the
left of the peg) with a random yaw, drawn here from the task's generator.

Observation: end effector (5 per arm), nut position (3) and quaternion (x, y, z, w; w >= 0), finger
joints (2 per arm). The peg does not move, so it is not observed (as in robomimic's low-dim keys).
State (expert): nut pose, handle grasp point and yaw, grasped flag, the nut's lowest point, the
nut's yaw, the peg's position and top height, then the end effectors.
Success: robosuite's own check (nut centre within 3 cm of the peg in x and y, below the table + 5 cm,
and the hand away from it). Failure: the nut off the table.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from robosuite.environments.manipulation.nut_assembly import NutAssemblySquare

from hitl_sim.core import SceneItem
from hitl_sim.mj.base import PerStateExpert
from hitl_sim.mj.robosuite_tasks.arm_control import YAW_LIMIT, rot_z, yaw_of_axis
from hitl_sim.mj.robosuite_tasks.common import ObjectHandle, RobosuiteTask, geom_items, state_ee_names
from hitl_sim.mj.robosuite_tasks.pick import choose_yaw, hand_noise, hold, pick_step, place_tolerance

HANDLE = np.array([0.058, 0.0, 0.0])  # grasp point on the handle (nut frame); fingers close along nut y
NUT_X, NUT_Y = (-0.115, -0.11), (0.11, 0.225)  # robosuite's square-nut sampler ranges (world, about the table)
CARRY_CLEAR = 0.025  # the nut's lowest point this far above the peg top while moving sideways
HAND_X_MAX = 0.79  # the hand this far out at most while placing (the peg is at 0.79, the workspace ends at 0.80)
RELEASE_LOWEST = 0.035  # let go once the nut's lowest point is this low (it is around the peg)
ALIGN_XY = 0.004  # nut centre this close to the peg (m) before lowering it from the carry height ...
LOWER_XY = 0.006  # ... and this close while lowering (the hole leaves 6.7 mm around the peg on each side)
STATE = ("nut_x", "nut_y", "nut_z", "nut_qx", "nut_qy", "nut_qz", "nut_qw", "grasp_x", "grasp_y", "grasp_z",
         "grasp_yaw", "grasped", "nut_lowest", "nut_yaw", "peg_x", "peg_y", "peg_top", "on_peg")


# per arm, base frame: the square peg (None: robosuite's place) and the nut's start region (None: robosuite's);
# robosuite's peg is 0.79 m in front of the base, beyond the YuMi's reach (its workspace ends at 0.6 m)
SQUARE_LAYOUT: dict[str, dict] = {
    "franka": {"peg": None, "nut_x": None, "nut_y": None},
    "yumi": {"peg": (0.47, 0.06), "nut_x": (0.38, 0.43), "nut_y": (0.20, 0.27)},
    "widowx": {"peg": (0.33, -0.10), "nut_x": (0.25, 0.30), "nut_y": (0.06, 0.12)},
}


class SquareSuiteEnv(NutAssemblySquare):
    """NutAssemblySquare with the square peg optionally moved to ``peg_base_xy`` (robot base frame)."""

    def __init__(self, *args, peg_base_xy: tuple[float, float] | None = None, **kwargs) -> None:
        self.peg_base_xy = peg_base_xy
        super().__init__(*args, **kwargs)

    def _load_model(self) -> None:
        super()._load_model()
        if self.peg_base_xy is not None:
            bx, by, _bz = self.robots[0].robot_model.base_xpos_offset["table"](self.table_full_size[0])
            z = self.model.mujoco_arena.peg1_body.get("pos").split()[2]
            self.model.mujoco_arena.peg1_body.set(
                "pos", f"{bx + self.peg_base_xy[0]} {by + self.peg_base_xy[1]} {z}")


class SquareTask(RobosuiteTask):
    name = "square"
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    control_steps = 200  # 20 s: robomimic rolls Square out for 400 steps at 20 Hz

    def __init__(self, arm, variant: str = "train") -> None:
        self.layout = SQUARE_LAYOUT[arm.name] if arm.name in SQUARE_LAYOUT else SQUARE_LAYOUT["franka"]
        self.env_kwargs = dict(use_object_obs=False, peg_base_xy=self.layout["peg"])
        super().__init__(arm, variant)
        self.nut = ObjectHandle(self, self.env.nuts[self.env.nut_id])
        m = self.env.sim.model._model
        peg = m.body("peg1").id
        self.peg_geoms = [g for g in range(m.ngeom) if m.geom_bodyid[g] == peg and m.geom_contype[g]]
        self.peg_xy = self.adapter.to_base(np.array(self.env.sim.data.body_xpos[peg]))[:2]
        g = self.peg_geoms[0]
        self.peg_top = float(self.adapter.to_base(self.env.sim.data.geom_xpos[g])[2] + m.geom_size[g][2])
        n = arm.n_arms
        fingers = [f"{p}finger_{i}" for p in (["left_", "right_"] if n == 2 else [""]) for i in range(2)]
        self.obs_names = [*self.action_names, "nut_x", "nut_y", "nut_z", "nut_qx", "nut_qy", "nut_qz", "nut_qw",
                          *fingers]
        self.state_names = [*STATE, *state_ee_names(n)]

    def env_class(self) -> type:
        return SquareSuiteEnv

    def place_objects(self, rng: np.random.Generator) -> None:
        # test: a wider start region (twice robosuite's x range, and further out in y)
        wide = self.variant == "test"
        if self.layout["nut_x"] is None:  # robosuite's region (world frame)
            x = rng.uniform(-0.16, -0.06) if wide else rng.uniform(*NUT_X)
            y = rng.uniform(0.11, 0.26) if wide else rng.uniform(*NUT_Y)
            xy = self.adapter.to_base(np.array([x, y, self.adapter.table_z]))[:2]
        else:
            (x0, x1), (y0, y1) = self.layout["nut_x"], self.layout["nut_y"]
            grow = 0.5 * (x1 - x0) if wide else 0.0
            xy = np.array([rng.uniform(x0 - grow, x1 + grow), rng.uniform(y0, y1 + grow)])
        self.nut.place(xy, rot_z(rng.uniform(-np.pi, np.pi)))

    def grasp(self) -> tuple[np.ndarray, float]:
        r, p = self.nut.rot(), self.nut.pos()
        g = p + r @ HANDLE
        g[2] = max(g[2], float(self.arm.workspace_min[2]))
        return g, yaw_of_axis(r @ np.array([0.0, 1.0, 0.0]))

    def on_peg(self) -> bool:
        return bool(self.env.on_peg(self.env.sim.data.body_xpos[self.nut.body], 0))

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.nut.pos(), self.nut.quat(), self.finger_obs()]).astype(
            np.float32)

    def state(self) -> np.ndarray:
        g, gyaw = self.grasp()
        r = self.nut.rot()
        return np.concatenate([
            self.nut.pos(), self.nut.quat(), g,
            [gyaw, float(self.adapter.grasping(self.nut.obj)), self.nut.lowest(), float(np.arctan2(r[1, 0], r[0, 0]))],
            self.peg_xy, [self.peg_top, float(self.on_peg())], self.current_action()])

    def evaluate(self) -> tuple[bool, bool]:
        p = self.nut.pos()
        off = p[2] < -0.05 or not (0.1 < p[0] < 1.0 and abs(p[1]) < 0.45)
        return bool(self.env._check_success()), bool(off)

    def scene(self) -> list[SceneItem]:
        return [self.table_item(), *geom_items(self, self.peg_geoms, "peg"), *self.nut.items("nut")]


def wrap_quarter(a: float) -> float:
    """Angle to (-pi/4, pi/4]: a square is the same under a quarter turn."""
    return float(np.pi / 4 - np.mod(np.pi / 4 - a, np.pi / 2))


class SquareExpert(PerStateExpert):
    """Grasp the handle, carry the nut above the peg (aligned), lower it around the peg, let go, back off."""

    n_modes = 1
    IDX: ClassVar[dict[str, int]] = {n: i for i, n in enumerate(STATE)}

    def _act_one(self, row: np.ndarray) -> np.ndarray:
        i = self.IDX
        ee_all = row[len(STATE):]
        ee = ee_all[:5]
        nut = row[i["nut_x"]:i["nut_x"] + 3]
        peg = np.array([row[i["peg_x"]], row[i["peg_y"]]])
        peg_top, lowest = row[i["peg_top"]], row[i["nut_lowest"]]
        grasped = row[i["grasped"]] > 0.5 and ee[4] > 0.1
        around_peg = np.linalg.norm(nut[:2] - peg) < 0.02 and lowest < peg_top - 0.01
        if row[i["on_peg"]] > 0.5 or (around_peg and not grasped):
            tgt = hold(ee, 0.0)  # placed (or sliding down the peg): let go and back off upward
            if ee[4] < 0.3:
                tgt[2] = max(ee[2], min(ee[2] + 0.05, 0.3))
        elif grasped:
            tgt = self._carry(ee, nut, peg, peg_top, lowest, row[i["nut_yaw"]])
        else:
            g = row[i["grasp_x"]:i["grasp_x"] + 3]
            tgt = pick_step(ee, g, choose_yaw(row[i["grasp_yaw"]], np.pi, ee[3]))
        tgt = hand_noise(tgt, ee, self.noise, self.rng)
        return np.concatenate([tgt, ee_all[5:]])

    def _carry(self, ee, nut, peg, peg_top, lowest, nut_yaw) -> np.ndarray:
        tgt = hold(ee, 1.0)
        dyaw, want_xy = self._placing(ee, nut, peg, nut_yaw)
        exy = float(np.linalg.norm(nut[:2] - peg))
        safe = ee[2] + (peg_top + CARRY_CLEAR - lowest)
        tgt[3] = ee[3] - dyaw
        if exy > place_tolerance(lowest, peg_top, CARRY_CLEAR, ALIGN_XY, LOWER_XY) or abs(dyaw) > 0.04:
            if lowest < peg_top + 0.01 and exy > 0.012:  # too low to move sideways: rise first
                tgt[2] = safe + 0.01
                tgt[3] = ee[3]
            else:
                tgt[:2] = want_xy
                tgt[2] = max(safe, ee[2] - 0.01) if lowest > peg_top else ee[2]
            return tgt
        tgt[:2] = want_xy
        if lowest > RELEASE_LOWEST:
            tgt[2] = ee[2] - 0.03
        else:
            tgt[4] = 0.0
        return tgt

    def _placing(self, ee, nut, peg, nut_yaw) -> tuple[float, np.ndarray]:
        """The quarter-turn-equivalent yaw correction (smallest that keeps the hand in reach) and hand xy."""
        best = None
        for k in (0, 1, -1, 2, -2):
            dyaw = wrap_quarter(nut_yaw) + k * np.pi / 2
            c, s = np.cos(-dyaw), np.sin(-dyaw)
            off = ee[:2] - nut[:2]
            want = peg + np.array([c * off[0] - s * off[1], s * off[0] + c * off[1]])
            # out of the wrist's window: never; beyond the reach: a strong penalty; else the smallest turn
            key = (abs(ee[3] - dyaw) > YAW_LIMIT, abs(dyaw) + 100.0 * max(0.0, want[0] - HAND_X_MAX))
            if best is None or key < best[0]:
                best = (key, dyaw, want)
        return best[1], best[2]

    def milestones(self, state: np.ndarray) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        i = self.IDX
        held = state[:, i["grasped"]] > 0.5
        above = held & (state[:, i["nut_lowest"]] > state[:, i["peg_top"]])
        return held.astype(np.int64) + above.astype(np.int64)
