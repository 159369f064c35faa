"""Pick-based tasks: lift, cube_stack, cup_stack, threading."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hitl_sim.core import SceneItem
from hitl_sim.tasks.base import (
    CAND,
    CUBE,
    GRASP_Z,
    HEIGHT,
    HOOK,
    NUT,
    OBJECTS,
    RADIUS,
    ROD,
    SMALL_CUP,
    WIDE_CUP,
    Obj,
    Task,
    grasp_physics,
    hold_targets,
    init_obj,
    obj_fields,
    obj_item,
    pick_targets,
    safe_move,
    table_item,
)

LIFT_HEIGHT = 0.08


def hash_normal(key: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """(N, k) standard normals that are a pure function of (key, t): observations stay a function of state."""
    idx = np.arange(1, 2 * k + 1)[None, :]
    x = np.sin(key[:, None] * 12.9898 + t[:, None] * 78.233 + idx * 37.719) * 43758.5453
    u = np.clip(x - np.floor(x), 1e-9, 1 - 1e-9)
    u1, u2 = u[:, :k], u[:, k:]
    return np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)


class Lift(Task):
    """Grasp and lift. Train: a cube (grasp at its centre). Test: nut, hook, wide cup (grasp elsewhere)."""

    name = "lift"
    variants = ("train", "test", "mixed")
    base_steps = 100
    state_fields = obj_fields("obj")
    obs_fields = (
        ("obj_pos", 3),
        ("obj_yaw", 1),
        ("obj_is", 4),
        ("obj_radius", 1),
        ("obj_height", 1),
        ("obj_feature", 3),
    )
    TYPES: ClassVar[dict[str, tuple[int, ...]]] = {
        "train": (CUBE,),
        "test": (NUT, HOOK, WIDE_CUP),
        "mixed": (CUBE, NUT, HOOK, WIDE_CUP),
    }

    def sample(self, rng, variant):
        row = np.zeros(self.state_layout.dim)
        types = self.TYPES[variant]
        typ = types[rng.integers(len(types))]
        xy = self.at(rng.uniform(-0.08, 0.12), rng.uniform(-0.15, 0.15))
        init_obj(self.state_layout, row, "obj", typ, xy, rng.uniform(-0.6, 0.6))
        return row

    def physics(self, env):
        o = Obj(self.state_layout, env.ts, "obj")
        released = grasp_physics(env, o)
        o.pos[released, 2] = 0.0

    def evaluate(self, env):
        o = Obj(self.state_layout, env.ts, "obj")
        return (o.grasped >= 0) & (o.pos[:, 2] >= LIFT_HEIGHT), o.knocked > 0.5

    @classmethod
    def milestones(cls, ts):
        return (Obj(cls.layout(), ts, "obj").grasped >= 0).astype(np.int64)

    def observe(self, env):
        o = Obj(self.state_layout, env.ts, "obj")
        t = o.t
        onehot = np.eye(4)[np.minimum(t, 3)]
        return np.concatenate(
            [o.pos, o.yaw[:, None], onehot, RADIUS[t][:, None], HEIGHT[t][:, None], CAND[t, 0]], 1
        )

    def scene(self, row):
        return [table_item(self), obj_item("object", row, self.state_layout, "obj")]

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        o = Obj(cls.layout(), ts, "obj")
        e = ee[:, 0]
        out = pick_targets(e[:, :3], e[:, 3], e[:, 4], o, cube_only=bool(opts.get("cube_only", False)))
        held = o.grasped >= 0
        up = hold_targets(e[held], 1.0)
        up[:, 2] = GRASP_Z[o.t[held]] + LIFT_HEIGHT + 0.06
        out[held] = up
        return out


class PlaceTask(Task):
    """Pick object A and set it on or into B (state ``b_pos``): the shared sampling, settling, scoring and expert.

    Subclasses name the flag that marks A placed (``placed_field``) and where the gripper lets go
    (``place_z``); the failure flag is ``toppled``.
    """

    placed_field = ""
    place_clearance = 0.05  # travel this high above the place pose before descending onto it
    place_tol = 0.003  # xy tolerance of that descent
    grasp_by_mode = False  # the supervisor's mode picks the grasp candidate

    @staticmethod
    def apart(draw) -> tuple[np.ndarray, np.ndarray]:
        """Draw (a, b) positions until they are 8 cm apart (keeps the objects apart on small workspaces)."""
        for _ in range(1000):
            a, b = draw()
            if np.linalg.norm(b - a) >= 0.08:
                break
        return a, b

    def held_over_b(self, env) -> tuple[Obj, np.ndarray, np.ndarray, np.ndarray]:
        """Run the grasp physics of A; returns A, the released mask, A's xy distance to B and the held mask."""
        o = Obj(self.state_layout, env.ts, "a")
        released = grasp_physics(env, o)
        b = self.state_layout.view(env.ts, "b_pos")
        dist = np.linalg.norm(o.pos[:, :2] - b[:, :2], axis=1)
        return o, released, dist, o.grasped >= 0

    def settle(self, env, o: Obj, released, toppled, placed, placed_z: float) -> None:
        """Flag toppled and placed rows; released objects land at ``placed_z`` when placed, else on the table."""
        L = self.state_layout
        L.view(env.ts, "toppled")[toppled] = 1
        L.view(env.ts, self.placed_field)[placed] = 1
        o.pos[released, 2] = np.where(placed[released], placed_z, 0.0)

    def evaluate(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "a")
        return (
            (L.view(env.ts, self.placed_field) > 0.5) & (o.grasped < 0),
            (o.knocked > 0.5) | (L.view(env.ts, "toppled") > 0.5),
        )

    @classmethod
    def place_z(cls) -> float:
        """Fingertip height at which the gripper opens over B."""
        raise NotImplementedError

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        L = cls.layout()
        o = Obj(L, ts, "a")
        e = ee[:, 0]
        out = pick_targets(e[:, :3], e[:, 3], e[:, 4], o, only_k=mode if cls.grasp_by_mode else None)
        held = o.grasped >= 0
        if held.any():
            b = L.view(ts, "b_pos")[held]
            place = np.concatenate([b[:, :2], np.full((len(b), 1), cls.place_z())], 1)
            eh = e[held]
            tgt = hold_targets(eh, 1.0)
            tgt[:, :3] = safe_move(eh[:, :3], place, place[:, 2] + cls.place_clearance, tol=cls.place_tol)
            there = np.linalg.norm(eh[:, :3] - place, axis=1) < 0.003
            tgt[there, 4] = 0.0
            out[held] = tgt
        done = L.view(ts, cls.placed_field) > 0.5
        out[done] = hold_targets(e[done], 0.0)
        return out


class CubeStack(PlaceTask):
    """Stack cube A on cube B. Two supervisors grasp different face pairs (mode 0: yaw, 1: yaw + 90 deg)."""

    name = "cube_stack"
    base_steps = 150
    B_HALF = 0.025
    state_fields = (
        *obj_fields("a"),
        ("b_pos", 3),
        ("b_yaw", 1),
        ("face_pair", 1),
        ("stacked", 1),
        ("toppled", 1),
    )
    obs_fields = (("a_pos", 3), ("a_yaw", 1), ("b_pos", 3), ("b_yaw", 1))
    mode_field = "face_pair"
    n_modes = 2
    placed_field = "stacked"
    grasp_by_mode = True

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        wide = variant == "test"
        side = rng.choice([-1.0, 1.0]) if wide else 1.0
        a, b = self.apart(
            lambda: (
                self.at(rng.uniform(-0.1, 0.0), -side * rng.uniform(0.03, 0.15)),
                self.at(rng.uniform(0.02, 0.12), side * rng.uniform(0.03, 0.15)),
            )
        )
        init_obj(L, row, "a", CUBE, a, rng.uniform(-0.6, 0.6))
        row[L.slices["b_pos"]] = (b[0], b[1], 0.0)
        row[L.slices["b_yaw"]] = rng.uniform(-0.6, 0.6) if wide else 0.0
        row[L.slices["face_pair"]] = rng.integers(2)
        return row

    def _top(self) -> float:
        return 2 * self.B_HALF

    @classmethod
    def place_z(cls) -> float:
        return 2 * cls.B_HALF + GRASP_Z[CUBE]

    def physics(self, env):
        o, released, dist, held = self.held_over_b(env)
        top = self._top()
        reach = 0.02 + self.B_HALF
        below = held & (o.pos[:, 2] < top - 0.002) & (dist < reach)
        came_down = env.ee_prev[:, 0, 2] + o.rel[:, 2] >= top - 0.002
        rests = below & came_down & (dist < 0.015)  # lowered onto B: B supports it
        env.ee_pos[rests, 0, 2] += top - o.pos[rests, 2]
        o.pos[rests, 2] = top
        crash = below & ~rests
        on = released & (o.pos[:, 2] > top - 0.01) & (dist < 0.015)
        topple = released & ~on & (dist < reach) & (o.pos[:, 2] > top - 0.01)
        self.settle(env, o, released, crash | topple, on, top)

    def observe(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "a")
        return np.concatenate(
            [o.pos, o.yaw[:, None], L.view(env.ts, "b_pos"), L.view(env.ts, "b_yaw")[:, None]], 1
        )

    def scene(self, row):
        L = self.state_layout
        b = row[L.slices["b_pos"]]
        d = 2 * self.B_HALF
        return [
            table_item(self),
            obj_item("cube_a", row, L, "a"),
            SceneItem(
                "cube_b",
                "box",
                (b[0], b[1], self.B_HALF),
                (d, d, d),
                float(row[L.slices["b_yaw"]][0]),
                (0.2, 0.4, 0.9, 1.0),
            ),
        ]


class CupStack(PlaceTask):
    """Drop a small cup into a larger one. While the held cup is near the target, the target is occluded."""

    name = "cup_stack"
    base_steps = 150
    B_R = 0.032
    B_H = 0.07
    NEST_TOL = 0.006
    state_fields = (
        *obj_fields("a"),
        ("b_pos", 3),
        ("nested", 1),
        ("toppled", 1),
        ("occ_radius", 1),
        ("noise_key", 1),
    )
    obs_fields = (("a_pos", 3), ("b_seen", 2), ("occluded", 1))
    OCC_NOISE = 0.02
    placed_field = "nested"
    place_clearance = 0.04
    place_tol = 0.002

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        spread = 0.15 if variant == "test" else 0.1
        a, b = self.apart(
            lambda: (
                self.at(rng.uniform(-0.1, 0.0), rng.uniform(-0.15, 0.15)),
                self.at(rng.uniform(0.04, 0.12), rng.uniform(-spread, spread)),
            )
        )
        init_obj(L, row, "a", SMALL_CUP, a, 0.0)
        row[L.slices["b_pos"]] = (b[0], b[1], 0.0)
        row[L.slices["occ_radius"]] = 0.09 if variant == "test" else 0.07
        row[L.slices["noise_key"]] = rng.integers(1, 1 << 20)
        return row

    def occluded(self, env) -> np.ndarray:
        L = self.state_layout
        o = Obj(L, env.ts, "a")
        b = L.view(env.ts, "b_pos")
        near = np.linalg.norm(env.ee_pos[:, 0, :2] - b[:, :2], axis=1) < L.view(env.ts, "occ_radius")
        return (o.grasped >= 0) & near

    @classmethod
    def place_z(cls) -> float:
        return cls.B_H + 0.005 + GRASP_Z[SMALL_CUP]

    def physics(self, env):
        o, released, dist, held = self.held_over_b(env)
        reach = OBJECTS[SMALL_CUP].radius + self.B_R
        crash = held & (o.pos[:, 2] < self.B_H - 0.002) & (dist < reach) & (dist >= self.NEST_TOL)
        high = o.pos[:, 2] > self.B_H - 0.01
        nest = released & high & (dist < self.NEST_TOL)
        topple = released & high & ~nest & (dist < reach)
        self.settle(env, o, released, crash | topple, nest, self.B_H - 0.045)

    def observe(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "a")
        b = L.view(env.ts, "b_pos")[:, :2].copy()
        occ = self.occluded(env)
        if occ.any():  # the held cup hides the target: the camera sees only the held cup, plus noise
            noise = hash_normal(L.view(env.ts, "noise_key")[occ], env.t[occ].astype(float), 2)
            b[occ] = env.ee_pos[occ, 0, :2] + self.OCC_NOISE * noise
        return np.concatenate([o.pos, b, occ[:, None].astype(float)], 1)

    def scene(self, row):
        L = self.state_layout
        b = row[L.slices["b_pos"]]
        return [
            table_item(self),
            obj_item("cup_a", row, L, "a"),
            SceneItem(
                "cup_b",
                "cylinder",
                (b[0], b[1], self.B_H / 2),
                (2 * self.B_R, 2 * self.B_R, self.B_H),
                0.0,
                (0.3, 0.4, 0.9, 0.6),
            ),
        ]


class Threading(Task):
    """Grasp a standing rod and thread it down through a ring; hitting the ring pushes it off its stand."""

    name = "threading"
    base_steps = 150
    RING_Z = 0.16
    RING_OUT = 0.03
    ROD_R = 0.008
    PUSH = 0.015
    FALL = 0.025
    state_fields = (
        *obj_fields("rod"),
        ("ring_pos", 3),
        ("ring_home", 2),
        ("hole_r", 1),
        ("threaded", 1),
        ("fallen", 1),
        ("hits", 1),
    )
    obs_fields = (("rod_pos", 3), ("ring_pos", 3), ("hole_r", 1))

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        init_obj(L, row, "rod", ROD, self.at(rng.uniform(-0.12, -0.02), rng.uniform(-0.15, 0.15)), 0.0)
        spread = 0.15 if variant == "test" else 0.1
        ring = self.at(rng.uniform(0.05, 0.12), rng.uniform(-spread, spread))
        row[L.slices["ring_pos"]] = (ring[0], ring[1], self.RING_Z)
        row[L.slices["ring_home"]] = ring
        row[L.slices["hole_r"]] = 0.012 if variant == "test" else 0.014
        return row

    def physics(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "rod")
        released = grasp_physics(env, o)
        ring = L.view(env.ts, "ring_pos")
        clear = L.view(env.ts, "hole_r") - self.ROD_R
        top = self.RING_Z + 0.005
        held = o.grasped >= 0
        bottom = o.pos[:, 2]
        bottom0 = env.ee_prev[:, 0, 2] + o.rel[:, 2]
        d = o.pos[:, :2] - ring[:, :2]
        off = np.linalg.norm(d, axis=1)
        unit = np.where(off[:, None] > 1e-9, d / np.maximum(off, 1e-9)[:, None], np.array([1.0, 0.0]))
        band = held & (bottom < top) & (bottom > self.RING_Z - 0.06)
        entering = band & (bottom0 >= top) & (off >= clear) & (off < self.RING_OUT + self.ROD_R)
        if entering.any():  # hit the rim: the ring is pushed away, the rod stays on top
            ring[entering, :2] -= unit[entering] * self.PUSH
            L.view(env.ts, "hits")[entering] += 1
            env.ee_pos[entering, 0, 2] = top - o.rel[entering, 2] + 0.001
            o.pos[entering, 2] = top + 0.001
        inside = band & (bottom0 < top) & (off > clear)
        if inside.any():  # dragging the rod sideways inside the hole drags the ring along
            ring[inside, :2] = o.pos[inside, :2] - unit[inside] * clear[inside, None]
        home = L.view(env.ts, "ring_home")
        L.view(env.ts, "fallen")[np.linalg.norm(ring[:, :2] - home, axis=1) > self.FALL] = 1
        thr = (
            held
            & (o.pos[:, 2] < self.RING_Z - 0.03)
            & (np.linalg.norm(o.pos[:, :2] - ring[:, :2], axis=1) <= clear + 1e-9)
        )
        L.view(env.ts, "threaded")[thr] = 1
        through = L.view(env.ts, "threaded") > 0.5
        o.pos[released & ~through, 2] = 0.0

    def evaluate(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "rod")
        return L.view(env.ts, "threaded") > 0.5, (o.knocked > 0.5) | (L.view(env.ts, "fallen") > 0.5)

    def observe(self, env):
        L = self.state_layout
        o = Obj(L, env.ts, "rod")
        return np.concatenate([o.pos, L.view(env.ts, "ring_pos"), L.view(env.ts, "hole_r")[:, None]], 1)

    def scene(self, row):
        L = self.state_layout
        r = row[L.slices["ring_pos"]]
        d = 2 * self.RING_OUT
        return [
            table_item(self),
            obj_item("rod", row, L, "rod"),
            SceneItem("ring", "cylinder", tuple(r), (d, d, 0.01), 0.0, (0.9, 0.2, 0.6, 0.8)),
            SceneItem(
                "stand",
                "cylinder",
                (r[0], r[1], (self.RING_Z - 0.005) / 2),
                (0.01, 0.01, self.RING_Z),
                0.0,
                (0.4, 0.4, 0.4, 1.0),
            ),
        ]

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        L = cls.layout()
        o = Obj(L, ts, "rod")
        e = ee[:, 0]
        out = pick_targets(e[:, :3], e[:, 3], e[:, 4], o)
        held = o.grasped >= 0
        if held.any():
            ring = L.view(ts, "ring_pos")[held]
            clear = L.view(ts, "hole_r")[held] - cls.ROD_R
            eh = e[held]
            rel_z = o.rel[held, 2]
            top = cls.RING_Z + 0.005
            rod_off = o.pos[held, :2] - eh[:, :2]
            above = np.concatenate([ring[:, :2] - rod_off, (top + 0.03 - rel_z)[:, None]], 1)
            bottom = eh[:, 2] + rel_z
            off = np.linalg.norm(o.pos[held, :2] - ring[:, :2], axis=1)
            tgt = hold_targets(eh, 1.0)
            tgt[:, :3] = safe_move(eh[:, :3], above, above[:, 2], tol=0.001)
            stuck = (bottom < top) & (off > 0.5 * clear)
            tgt[stuck, :2] = eh[stuck, :2]
            tgt[stuck, 2] = above[stuck, 2]
            go = ~stuck & (off <= 0.001) & (eh[:, 2] <= above[:, 2] + 0.002)
            tgt[go, :2] = above[go, :2]
            tgt[go, 2] = np.maximum(cls.RING_Z - 0.045 - rel_z[go], eh[go, 2] - 0.01)
            out[held] = tgt
        done = L.view(ts, "threaded") > 0.5
        out[done] = hold_targets(e[done], 1.0)
        return out
