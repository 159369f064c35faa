"""Multimodal tasks without pick-and-place: drawer (intent), push3 (unseen goal), nav (fork + wind)."""

from __future__ import annotations

import numpy as np

from hitl_sim.core import EE_DIM, SceneItem
from hitl_sim.tasks.base import Task, hold_targets, safe_move, table_item


class Drawer(Task):
    """Open one of three drawers (stacked heights). The operator's intent picks which; it is not observed.

    Opening a drawer that was not intended (> 5 cm) or driving into the cabinet is a failure.
    """

    name = "drawer"
    base_steps = 120
    HANDLE = 0.02  # handle sticks out this far in front of the drawer face
    OPEN = 0.12  # success: intended drawer opened this far
    WRONG = 0.05
    MAX_OPEN = 0.2
    HALF_W = 0.12  # cabinet half width (y)
    HANDLE_W = 0.015
    state_fields = (
        ("front_x", 1),
        ("cab_y", 1),
        ("heights", 3),
        ("opening", 3),
        ("intent", 1),
        ("grasped", 1),
        ("crashed", 1),
    )
    obs_fields = (("front_x", 1), ("cab_y", 1), ("heights", 3), ("opening", 3))
    mode_field = "intent"
    n_modes = 3

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        test = variant == "test"
        xy = self.at(
            0.12 + rng.uniform(-0.02, 0.02), rng.uniform(-0.12, 0.12) if test else rng.uniform(-0.08, 0.08)
        )
        row[L.slices["front_x"]] = xy[0]
        row[L.slices["cab_y"]] = xy[1]
        h = np.array([0.08, 0.16, 0.24]) + (rng.uniform(-0.015, 0.015, 3) if test else 0.0)
        row[L.slices["heights"]] = h
        row[L.slices["intent"]] = rng.integers(3)
        row[L.slices["grasped"]] = -1
        return row

    @classmethod
    def handles(cls, L, ts) -> np.ndarray:
        """(N, 3, 3) handle positions."""
        front, y = L.view(ts, "front_x"), L.view(ts, "cab_y")
        x = front[:, None] - cls.HANDLE - L.view(ts, "opening")
        return np.stack([x, np.repeat(y[:, None], 3, 1), L.view(ts, "heights")], -1)

    def physics(self, env):
        L = self.state_layout
        ts = env.ts
        ee, g, g0 = env.ee_pos[:, 0], env.gripper[:, 0], env.grip_prev[:, 0]
        c = 1.0 - self.HANDLE_W / env.arm.gripper_max_width
        grasped = L.view(ts, "grasped")
        opening = L.view(ts, "opening")
        front = L.view(ts, "front_x")
        held = grasped >= 0
        rows = np.nonzero(held)[0]
        d = grasped[rows].astype(np.int64)
        hz = L.view(ts, "heights")[rows, d]
        slip = (np.abs(ee[rows, 1] - L.view(ts, "cab_y")[rows]) > 0.02) | (np.abs(ee[rows, 2] - hz) > 0.02)
        release = g[rows] < c - 0.05
        lost = rows[slip | release]
        grasped[lost] = -1
        keep = rows[~(slip | release)]
        dk = grasped[keep].astype(np.int64)
        g[keep] = np.minimum(g[keep], c)
        new_open = np.clip(front[keep] - self.HANDLE - ee[keep, 0], 0.0, self.MAX_OPEN)
        opening[keep, dk] = new_open
        ee[keep, 0] = front[keep] - self.HANDLE - new_open
        # new grasp on a handle
        hd = self.handles(L, ts)
        err = np.abs(ee[:, None, :] - hd)
        at = (err < 0.012).all(-1)
        new = ~held & (g0 < c) & (g >= c) & at.any(1)
        grasped[new] = np.argmax(at[new], 1)
        g[new] = c
        inside = (
            (ee[:, 0] > front - 0.005)
            & (np.abs(ee[:, 1] - L.view(ts, "cab_y")) < self.HALF_W)
            & (ee[:, 2] < 0.32)
        )
        L.view(ts, "crashed")[inside] = 1

    def evaluate(self, env):
        L = self.state_layout
        op = L.view(env.ts, "opening")
        intent = L.view(env.ts, "intent").astype(np.int64)
        rows = np.arange(len(op))
        other = op.copy()
        other[rows, intent] = 0
        return op[rows, intent] >= self.OPEN, (other.max(1) > self.WRONG) | (L.view(env.ts, "crashed") > 0.5)

    def observe(self, env):
        L = self.state_layout
        return np.concatenate(
            [
                L.view(env.ts, "front_x")[:, None],
                L.view(env.ts, "cab_y")[:, None],
                L.view(env.ts, "heights"),
                L.view(env.ts, "opening"),
            ],
            1,
        )

    def scene(self, row):
        L = self.state_layout
        f, y = row[L.slices["front_x"]][0], row[L.slices["cab_y"]][0]
        items = [
            table_item(self),
            SceneItem(
                "cabinet",
                "box",
                (f + 0.15, y, 0.16),
                (0.3, 2 * self.HALF_W, 0.32),
                0.0,
                (0.5, 0.35, 0.2, 0.5),
            ),
        ]
        for k, (h, o) in enumerate(zip(row[L.slices["heights"]], row[L.slices["opening"]])):
            items.append(
                SceneItem(
                    f"drawer_{k}", "box", (f + 0.1 - o, y, h), (0.2, 0.2, 0.06), 0.0, (0.7, 0.55, 0.35, 1.0)
                )
            )
            items.append(
                SceneItem(
                    f"handle_{k}",
                    "box",
                    (f - self.HANDLE - o, y, h),
                    (0.01, 0.08, 0.015),
                    0.0,
                    (0.2, 0.2, 0.2, 1.0),
                )
            )
        return items

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        L = cls.layout()
        e = ee[:, 0]
        n = len(ts)
        rows = np.arange(n)
        hd = cls.handles(L, ts)[rows, mode]
        front = L.view(ts, "front_x")
        grasped = L.view(ts, "grasped").astype(np.int64)
        out = hold_targets(e, 0.0)
        out[:, 3] = 0.0
        pre = hd.copy()
        pre[:, 0] -= 0.06
        on_line = (
            (np.abs(e[:, 1] - hd[:, 1]) < 0.003)
            & (np.abs(e[:, 2] - hd[:, 2]) < 0.003)
            & (e[:, 0] <= hd[:, 0] + 0.003)
        )
        at = on_line & (np.abs(e[:, 0] - hd[:, 0]) < 0.003)
        out[:, :3] = np.where(on_line[:, None], hd, pre)
        backoff = ~on_line & (e[:, 0] > front - 0.04)
        out[backoff, 0] = front[backoff] - 0.08
        out[backoff, 1:3] = e[backoff, 1:3]
        closed_empty = e[:, 4] > 0.95
        out[:, 4] = np.where(at & ~closed_empty, 1.0, 0.0)
        opening = (grasped < 0) & (e[:, 4] > 0.05) & ~(at & ~closed_empty)
        out[opening] = hold_targets(e[opening], 0.0)
        mine = grasped == mode
        pull = hd[mine].copy()
        pull[:, 0] = front[mine] - cls.HANDLE - 0.16
        out[mine, :3] = pull
        out[mine, 4] = 1.0
        wrong = (grasped >= 0) & ~mine
        out[wrong] = hold_targets(e[wrong], 0.0)
        return out


class Push3(Task):
    """Push a puck to one of three goals; the goal id is hidden (demos split evenly between goals)."""

    name = "push3"
    base_steps = 150
    PUCK_R = 0.03
    PUCK_H = 0.04
    EE_R = 0.012
    TOL = 0.025
    PUSH_Z = 0.033
    state_fields = (("puck", 3), ("goals", 6), ("goal_id", 1), ("pressed", 1))
    obs_fields = (("puck", 2), ("goals", 6))
    mode_field = "goal_id"
    n_modes = 3

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        test = variant == "test"
        j = (lambda: rng.uniform(-0.02, 0.02)) if test else (lambda: 0.0)
        p = self.at(
            -0.1 + rng.uniform(-0.02, 0.02), rng.uniform(-0.05, 0.05) if test else rng.uniform(-0.03, 0.03)
        )
        row[L.slices["puck"]] = (p[0], p[1], 0.0)
        goals = [self.at(0.1 + j(), -0.14 + j()), self.at(0.14 + j(), j()), self.at(0.1 + j(), 0.14 + j())]
        row[L.slices["goals"]] = np.concatenate(goals)
        row[L.slices["goal_id"]] = rng.integers(3)
        return row

    def physics(self, env):
        L = self.state_layout
        puck = L.view(env.ts, "puck")
        ee, z0 = env.ee_pos[:, 0], env.ee_prev[:, 0, 2]
        d = puck[:, :2] - ee[:, :2]
        dist = np.linalg.norm(d, axis=1)
        low = ee[:, 2] < self.PUCK_H
        L.view(env.ts, "pressed")[low & (z0 >= self.PUCK_H) & (dist < self.PUCK_R)] = 1
        rs = self.PUCK_R + self.EE_R
        push = low & (dist < rs) & (L.view(env.ts, "pressed") < 0.5)
        unit = d[push] / np.maximum(dist[push], 1e-9)[:, None]
        puck[push, :2] = ee[push, :2] + unit * rs

    def evaluate(self, env):
        L = self.state_layout
        puck = L.view(env.ts, "puck")[:, :2]
        goals = L.view(env.ts, "goals").reshape(-1, 3, 2)
        dist = np.linalg.norm(goals - puck[:, None], axis=-1)
        gid = L.view(env.ts, "goal_id").astype(np.int64)
        rows = np.arange(len(puck))
        ok = dist[rows, gid] < self.TOL
        dist[rows, gid] = np.inf
        lo, hi = env.arm.workspace_min[:2] - 0.05, env.arm.workspace_max[:2] + 0.05
        off = ((puck < lo) | (puck > hi)).any(1)
        return ok, (dist.min(1) < self.TOL) | off | (L.view(env.ts, "pressed") > 0.5)

    def observe(self, env):
        L = self.state_layout
        return np.concatenate([L.view(env.ts, "puck")[:, :2], L.view(env.ts, "goals")], 1)

    def scene(self, row):
        L = self.state_layout
        p = row[L.slices["puck"]]
        items = [
            table_item(self),
            SceneItem(
                "puck",
                "cylinder",
                (p[0], p[1], self.PUCK_H / 2),
                (2 * self.PUCK_R, 2 * self.PUCK_R, self.PUCK_H),
                0.0,
                (0.9, 0.4, 0.1, 1),
            ),
        ]
        for k, g in enumerate(row[L.slices["goals"]].reshape(3, 2)):
            items.append(
                SceneItem(
                    f"goal_{k}",
                    "cylinder",
                    (g[0], g[1], 0.001),
                    (2 * self.TOL, 2 * self.TOL, 0.002),
                    0.0,
                    (0.2, 0.8, 0.2, 0.5),
                )
            )
        return items

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        L = cls.layout()
        e = ee[:, 0]
        n = len(ts)
        P = L.view(ts, "puck")[:, :2]
        G = L.view(ts, "goals").reshape(-1, 3, 2)[np.arange(n), mode]
        v = G - P
        rem = np.linalg.norm(v, axis=1)
        u = v / np.maximum(rem, 1e-9)[:, None]
        rs = cls.PUCK_R + cls.EE_R
        rel = e[:, :2] - P
        along = (rel * u).sum(1)
        lat = rel[:, 0] * u[:, 1] - rel[:, 1] * u[:, 0]
        low = e[:, 2] < cls.PUCK_H
        ready = low & (along < -(rs - 0.004)) & (along > -(rs + 0.03)) & (np.abs(lat) < 0.003)
        out = hold_targets(e, 0.0)
        out[:, 3] = 0.0
        behind = np.concatenate([P - u * (rs + 0.02), np.full((n, 1), cls.PUSH_Z)], 1)
        out[:, :3] = safe_move(e[:, :3], behind, np.full(n, cls.PUCK_H + 0.03), tol=0.004)
        direct = low & (along < -rs) & (np.abs(lat) < 0.02)
        out[direct, :3] = behind[direct]
        push = np.concatenate(
            [P - u * rs + u * np.minimum(0.02, rem)[:, None], np.full((n, 1), cls.PUSH_Z)], 1
        )
        out[ready, :3] = push[ready]
        return out


class Nav(Task):
    """IIFL's 2-D fork: go around an obstacle (two equally likely branches), then through a narrow corridor.

    The end effector moves in a horizontal plane (z, yaw, gripper unused). Test variant: inside the
    corridor an unobserved wind displaces the robot by 0.75 x its nominal step per tick (+y); the
    corridor is narrower than that displacement, so only a policy that counter-steers survives.
    """

    name = "nav"
    base_steps = 80
    state_fields = (
        ("start", 2),
        ("obstacle", 2),
        ("obstacle_r", 1),
        ("corridor_x", 2),
        ("corridor_y", 1),
        ("corridor_hw", 1),
        ("join_x", 1),
        ("goal", 2),
        ("goal_tol", 1),
        ("wind", 1),
        ("speed", 1),
        ("plane_z", 1),
        ("branch", 1),
    )
    obs_fields = ()
    mode_field = "branch"
    n_modes = 2
    WIND = 0.75
    expert_pace = None  # the nav expert sets its own speed (and must out-steer the wind)

    def sample(self, rng, variant):
        L = self.state_layout
        row = np.zeros(L.dim)
        s = self.s
        step = self.arm.max_step()
        put = lambda k, v: row.__setitem__(L.slices[k], v)  # noqa: E731
        put("start", self.at(-0.22 + rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)))
        put("obstacle", self.at(-0.07, 0.0))
        put("obstacle_r", 0.05 * s)
        put("corridor_x", (self.at(0.05, 0)[0], self.at(0.19, 0)[0]))
        put("corridor_y", self.centre[1])
        put("corridor_hw", 0.25 * step)
        put("join_x", self.at(0.02, 0)[0])
        put("goal", self.at(0.22, 0))
        put("goal_tol", 0.02 * s)
        put("speed", 0.5 * step)
        put("wind", self.WIND * 0.5 * step if variant == "test" else 0.0)
        put("plane_z", self.arm.home[0, 2])
        put("branch", rng.integers(2))
        return row

    def initial_ee(self, row, arm):
        ee = super().initial_ee(row, arm)
        L = self.state_layout
        ee[0, :2] = row[L.slices["start"]]
        ee[0, 2] = row[L.slices["plane_z"]][0]
        return ee

    @staticmethod
    def _windy(L, ts, pos) -> np.ndarray:
        """(N,) robots whose x lies in the wind zone (from the corridor's entry to just past the goal)."""
        cx = L.view(ts, "corridor_x")
        return (pos[:, 0] >= cx[:, 0]) & (pos[:, 0] <= L.view(ts, "goal")[:, 0] + 0.05)

    def physics(self, env):
        L = self.state_layout
        w = self._windy(L, env.ts, env.ee_prev[:, 0])
        env.ee_pos[w, 0, 1] += L.view(env.ts, "wind")[w]

    def evaluate(self, env):
        L = self.state_layout
        ts = env.ts
        p = env.ee_pos[:, 0, :2]
        hit = np.linalg.norm(p - L.view(ts, "obstacle"), axis=1) < L.view(ts, "obstacle_r")
        cx = L.view(ts, "corridor_x")
        inx = (p[:, 0] >= cx[:, 0]) & (p[:, 0] <= cx[:, 1])
        wall = inx & (np.abs(p[:, 1] - L.view(ts, "corridor_y")) > L.view(ts, "corridor_hw"))
        ok = np.linalg.norm(p - L.view(ts, "goal"), axis=1) < L.view(ts, "goal_tol")
        return ok, hit | wall

    def observe(self, env):
        return np.zeros((env.num_envs, 0))

    def scene(self, row):
        L = self.state_layout
        v = lambda k: row[L.slices[k]]  # noqa: E731
        z = float(v("plane_z")[0])
        o, r = v("obstacle"), float(v("obstacle_r")[0])
        cx, cy, hw = v("corridor_x"), float(v("corridor_y")[0]), float(v("corridor_hw")[0])
        g = v("goal")
        length = cx[1] - cx[0]
        wall = (0.04, 0.02, 0.0, 0.0)
        items = [
            table_item(self),
            SceneItem(
                "obstacle", "cylinder", (o[0], o[1], z), (2 * r, 2 * r, 0.05), 0.0, (0.8, 0.1, 0.1, 0.8)
            ),
            SceneItem(
                "goal", "sphere", (g[0], g[1], z), (2 * v("goal_tol")[0],) * 3, 0.0, (0.1, 0.8, 0.1, 0.6)
            ),
        ]
        for side in (1, -1):
            yc = cy + side * (hw + wall[0] / 2)
            items.append(
                SceneItem(
                    f"wall_{side}",
                    "box",
                    ((cx[0] + cx[1]) / 2, yc, z),
                    (length, wall[0], 0.05),
                    0.0,
                    (0.3, 0.3, 0.3, 0.8),
                )
            )
        return items

    @classmethod
    def path(cls, L, ts, branch) -> np.ndarray:
        """(N, 5, 2) waypoints of each robot's branch: start, around the obstacle, join, goal."""
        o, r = L.view(ts, "obstacle"), L.view(ts, "obstacle_r")
        side = np.where(branch == 0, 1.0, -1.0)
        cy = L.view(ts, "corridor_y")
        a1 = np.stack([o[:, 0] - 0.6 * r, o[:, 1] + side * 1.5 * r], 1)
        a2 = np.stack([o[:, 0] + 0.6 * r, o[:, 1] + side * 1.5 * r], 1)
        j = np.stack([L.view(ts, "join_x"), cy], 1)
        return np.stack([L.view(ts, "start"), a1, a2, j, L.view(ts, "goal")], 1)

    @classmethod
    def expert_targets(cls, ts, ee, mode, opts):
        L = cls.layout()
        e = ee[:, 0]
        n = len(ts)
        P = cls.path(L, ts, mode)
        a, b = P[:, :-1], P[:, 1:]
        seg = b - a
        ln = np.linalg.norm(seg, axis=-1)
        t = np.clip(((e[:, None, :2] - a) * seg).sum(-1) / np.maximum(ln, 1e-9) ** 2, 0, 1)
        proj = a + t[..., None] * seg
        dist = np.linalg.norm(e[:, None, :2] - proj, axis=-1) - 1e-6 * np.arange(seg.shape[1])
        k = np.argmin(dist, 1)
        rows = np.arange(n)
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(ln, 1)], 1)
        s = cum[rows, k] + t[rows, k] * ln[rows, k] + L.view(ts, "speed")
        kk = np.clip((s[:, None] >= cum[:, 1:]).sum(1), 0, seg.shape[1] - 1)
        frac = np.clip((s - cum[rows, kk]) / np.maximum(ln[rows, kk], 1e-9), 0, 1)
        carrot = a[rows, kk] + frac[:, None] * seg[rows, kk]
        out = np.zeros((n, EE_DIM))
        out[:, :2] = carrot
        out[:, 2] = L.view(ts, "plane_z")
        if opts.get("know_wind", True):
            windy = cls._windy(L, ts, e)
            out[windy, 1] -= L.view(ts, "wind")[windy]
        return out
