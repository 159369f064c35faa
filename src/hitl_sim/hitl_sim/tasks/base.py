"""Shared task machinery: scene frame, object catalogue, grasping and the stateless pick expert.

Geometry is quasi-static and kinematic: an object is either resting on a support or rigidly held
by the gripper. A grasp happens when the closing gripper reaches the object's width while the
fingertip point is within tolerance of one of the object's grasp candidates (position and, for
non-round objects, yaw modulo a half turn). Lowering the fingers into an object anywhere else
knocks it over: a failure that needs a hard reset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hitl_sim.arms import ArmProfile
from hitl_sim.core import EE_DIM, Layout, SceneItem, split_state, wrap, wrap_half

GRASP_TOL_XY = 0.012  # fingertip point within this of a grasp candidate (m)
GRASP_TOL_Z = 0.012
GRASP_TOL_YAW = 0.2  # rad, modulo pi
CLEAR_XY = 0.024  # fingers inside an object's solid but this close to a candidate: no knock
CLEAR_YAW = 0.35
FINGER = 0.008  # finger half thickness for the knock test
ALIGN_XY = 0.004  # the expert's own tolerances (tighter than the sim's)
ALIGN_YAW = 0.05


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    height: float
    grasp_z: float  # fingertip height above the object's base at a grasp
    width: float  # finger separation at the grasp
    candidates: tuple[tuple[float, float, float], ...]  # (dx, dy, dyaw) in the object frame
    solids: tuple[tuple[float, float, float, float], ...]  # annuli (dx, dy, r_in, r_out)
    round: bool = False  # grasp yaw does not matter
    radius: float = 0.02  # footprint radius (observation, drawing)
    color: tuple[float, float, float, float] = (0.8, 0.3, 0.2, 1.0)


HALF_PI = math.pi / 2
OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "cube",
        0.04,
        0.03,
        0.04,
        ((0, 0, 0), (0, 0, HALF_PI)),
        ((0, 0, 0, 0.02),),
        radius=0.02,
        color=(0.85, 0.2, 0.2, 1),
    ),
    # hexagonal nut: the centre is the hole; grip the wall (fingers close radially)
    ObjectSpec(
        "nut",
        0.04,
        0.03,
        0.022,
        ((0.029, 0, 0), (-0.029, 0, 0)),
        ((0, 0, 0.018, 0.04),),
        radius=0.04,
        color=(0.6, 0.6, 0.65, 1),
    ),
    # hook: a wide head around the origin and a shaft along -x; only the shaft fits the gripper
    ObjectSpec(
        "hook",
        0.04,
        0.03,
        0.02,
        ((-0.06, 0, HALF_PI),),
        ((0.03, 0, 0, 0.035), (-0.02, 0, 0, 0.01), (-0.05, 0, 0, 0.01), (-0.08, 0, 0, 0.01)),
        radius=0.065,
        color=(0.2, 0.5, 0.85, 1),
    ),
    # wide cup: too wide for any gripper; grip the handle (a plate along x, fingers close along y)
    ObjectSpec(
        "wide_cup",
        0.09,
        0.045,
        0.012,
        ((0.062, 0, HALF_PI),),
        ((0, 0, 0.04, 0.045), (0.062, 0, 0, 0.008)),
        radius=0.07,
        color=(0.95, 0.85, 0.3, 1),
    ),
    ObjectSpec(
        "small_cup",
        0.06,
        0.045,
        0.044,
        ((0, 0, 0),),
        ((0, 0, 0.017, 0.022),),
        round=True,
        radius=0.022,
        color=(0.3, 0.75, 0.35, 1),
    ),
    ObjectSpec(
        "rod",
        0.12,
        0.10,
        0.016,
        ((0, 0, 0),),
        ((0, 0, 0, 0.008),),
        round=True,
        radius=0.008,
        color=(0.75, 0.45, 0.2, 1),
    ),
)
CUBE, NUT, HOOK, WIDE_CUP, SMALL_CUP, ROD = range(6)
_K = max(len(o.candidates) for o in OBJECTS)
_S = max(len(o.solids) for o in OBJECTS)
CAND = np.zeros((len(OBJECTS), _K, 3))
CAND_OK = np.zeros((len(OBJECTS), _K), bool)
SOLID = np.zeros((len(OBJECTS), _S, 4))
for _i, _o in enumerate(OBJECTS):
    CAND[_i, : len(_o.candidates)] = _o.candidates
    CAND_OK[_i, : len(_o.candidates)] = True
    SOLID[_i, : len(_o.solids)] = _o.solids
HEIGHT = np.array([o.height for o in OBJECTS])
GRASP_Z = np.array([o.grasp_z for o in OBJECTS])
WIDTH = np.array([o.width for o in OBJECTS])
ROUND = np.array([o.round for o in OBJECTS])
RADIUS = np.array([o.radius for o in OBJECTS])

OBJ_FIELDS = [("pos", 3), ("yaw", 1), ("type", 1), ("grasped", 1), ("rel", 3), ("rel_yaw", 1), ("knocked", 1)]


def obj_fields(prefix: str) -> tuple[tuple[str, int], ...]:
    return tuple((f"{prefix}_{n}", w) for n, w in OBJ_FIELDS)


def rot2(yaw: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate (..., 2) vectors by yaw (...)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


class Obj:
    """Views of one object's state block (prefix_pos, prefix_yaw, ...)."""

    def __init__(self, layout: Layout, ts: np.ndarray, prefix: str):
        g = lambda n: layout.view(ts, f"{prefix}_{n}")  # noqa: E731
        self.pos, self.yaw, self.type, self.grasped = g("pos"), g("yaw"), g("type"), g("grasped")
        self.rel, self.rel_yaw, self.knocked = g("rel"), g("rel_yaw"), g("knocked")

    @property
    def t(self) -> np.ndarray:
        return self.type.astype(np.int64)


def init_obj(layout: Layout, row: np.ndarray, prefix: str, typ: int, xy, yaw: float, z: float = 0.0) -> None:
    v = lambda n: layout.slices[f"{prefix}_{n}"]  # noqa: E731
    row[v("pos")] = (xy[0], xy[1], z)
    row[v("yaw")] = yaw
    row[v("type")] = typ
    row[v("grasped")] = -1
    row[v("rel")] = 0
    row[v("rel_yaw")] = 0
    row[v("knocked")] = 0


def candidate_errors(ee: np.ndarray, ee_yaw: np.ndarray, o: Obj) -> tuple[np.ndarray, ...]:
    """Per candidate (N, K): xy, z and yaw (mod pi) errors; target xy (N,K,2), z (N,), yaw (N,K); valid."""
    t = o.t
    cand = CAND[t]
    gxy = o.pos[:, None, :2] + rot2(o.yaw[:, None], cand[..., :2])
    gz = o.pos[:, 2] + GRASP_Z[t]
    gyaw = o.yaw[:, None] + cand[..., 2]
    exy = np.linalg.norm(ee[:, None, :2] - gxy, axis=-1)
    ez = np.abs(ee[:, 2] - gz)[:, None] + np.zeros_like(exy)
    eyaw = np.where(ROUND[t][:, None], 0.0, np.abs(wrap_half(ee_yaw[:, None] - gyaw)))
    return exy, ez, eyaw, gxy, gz, gyaw, CAND_OK[t]


def grasp_physics(env, o: Obj, arm: int = 0) -> np.ndarray:
    """Grasp, hold, release and knock for one object; returns the (N,) mask of objects released this tick."""
    ee, yaw, g, g0 = env.ee_pos[:, arm], env.ee_yaw[:, arm], env.gripper[:, arm], env.grip_prev[:, arm]
    t = o.t
    c = 1.0 - WIDTH[t] / env.arm.gripper_max_width
    c = np.where(c <= 0.02, 2.0, c)  # wider than the gripper: can never be held
    held = o.grasped >= 0
    released = held & (g < c - 0.05)
    keep = held & ~released
    o.grasped[released] = -1
    g[keep] = np.minimum(g[keep], c[keep])
    # newly grasped: the fingers reach the object's width at a candidate
    exy, ez, eyaw, *_rest, ok = candidate_errors(ee, yaw, o)
    good = ok & (exy < GRASP_TOL_XY) & (ez < GRASP_TOL_Z) & (eyaw < GRASP_TOL_YAW)
    new = ~held & (o.knocked < 0.5) & (g0 < c) & (g >= c) & good.any(1)
    if new.any():
        o.grasped[new] = np.argmax(good[new], 1)
        g[new] = c[new]
        o.rel[new, :2] = rot2(-yaw[new], o.pos[new, :2] - ee[new, :2])
        o.rel[new, 2] = o.pos[new, 2] - ee[new, 2]
        o.rel_yaw[new] = o.yaw[new] - yaw[new]
    # knock: fingertips inside a solid part of a resting object, away from any grasp candidate
    rest = (o.grasped < 0) & ~new
    local = rot2(-o.yaw, ee[:, :2] - o.pos[:, :2])
    sol = SOLID[t]
    r = np.linalg.norm(local[:, None, :] - sol[..., :2], axis=-1)
    inside = ((sol[..., 3] > 0) & (r >= sol[..., 2] - FINGER) & (r <= sol[..., 3] + FINGER)).any(1)
    near = (ok & (exy < CLEAR_XY) & (eyaw < CLEAR_YAW)).any(1)
    below = ee[:, 2] < o.pos[:, 2] + HEIGHT[t] - 0.003
    knock = rest & inside & below & ~near
    o.knocked[knock] = 1
    attach(env, o, arm)
    return released


def attach(env, o: Obj, arm: int = 0) -> None:
    """Held objects follow the end effector rigidly."""
    h = o.grasped >= 0
    if h.any():
        ee, yaw = env.ee_pos[h, arm], env.ee_yaw[h, arm]
        o.pos[h, :2] = ee[:, :2] + rot2(yaw, o.rel[h, :2])
        o.pos[h, 2] = ee[:, 2] + o.rel[h, 2]
        o.yaw[h] = wrap(yaw + o.rel_yaw[h])


def hold_targets(ee: np.ndarray, grip: float | np.ndarray) -> np.ndarray:
    """(N, 5) targets that keep the end effectors' pose (xyz, yaw) with gripper command ``grip``."""
    out = np.zeros((len(ee), EE_DIM))
    out[:, :4] = ee[:, :4]
    out[:, 4] = grip
    return out


def safe_move(ee: np.ndarray, goal: np.ndarray, safe_z: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Next waypoint toward ``goal`` (N,3) that travels at ``safe_z`` when the xy distance is large."""
    far = np.linalg.norm(ee[:, :2] - goal[:, :2], axis=1) > tol
    low = ee[:, 2] < safe_z - 0.005
    out = goal.copy()
    up = far & low
    out[up, :2] = ee[up, :2]
    out[far, 2] = np.where(low[far], safe_z[far], np.maximum(safe_z[far], goal[far, 2]))
    return out


def pick_targets(
    ee: np.ndarray, yaw: np.ndarray, g: np.ndarray, o: Obj, only_k=None, cube_only: bool = False
) -> np.ndarray:
    """Stateless pick: (N, 5) targets that open, re-approach, descend and close on ``o`` from any state.

    only_k: (N,) candidate index to use (-1 = nearest). cube_only: behave as if every object were a
    cube (grasp its origin at its yaw): the training-only baseline.
    """
    exy, _ez, eyaw, gxy, gz, gyaw, ok = candidate_errors(ee, yaw, o)
    n = len(ee)
    if cube_only:
        gxy = np.repeat(o.pos[:, None, :2], gxy.shape[1], 1)
        gz = o.pos[:, 2] + GRASP_Z[CUBE]
        gyaw = o.yaw[:, None] + CAND[CUBE][None, :, 2]
        ok = np.ones_like(ok)
        exy = np.linalg.norm(ee[:, None, :2] - gxy, axis=-1)
        eyaw = np.abs(wrap_half(yaw[:, None] - gyaw))
    cost = np.where(ok, eyaw + 5 * exy, np.inf)
    if only_k is not None:
        only_k = np.asarray(only_k)
        forced = only_k >= 0
        sel = np.where(forced[:, None], np.arange(cost.shape[1])[None] == only_k[:, None], True)
        cost = np.where(sel & ok, cost, np.inf)
    k = np.argmin(cost, 1)
    rows = np.arange(n)
    txy, tyaw_raw = gxy[rows, k], gyaw[rows, k]
    tyaw = yaw + wrap_half(tyaw_raw - yaw)
    if not cube_only:
        tyaw = np.where(ROUND[o.t], yaw, tyaw)
    exy_k = exy[rows, k]
    eyaw_k = np.abs(wrap_half(tyaw - yaw))
    pre_z = gz + 0.08
    aligned = (exy_k < ALIGN_XY) & (eyaw_k < ALIGN_YAW)
    at = aligned & (np.abs(ee[:, 2] - gz) < 0.004)
    out = np.zeros((n, EE_DIM))
    goal = np.concatenate([txy, pre_z[:, None]], 1)
    out[:, :3] = safe_move(ee, goal, pre_z, tol=0.01)
    # close to the candidate but not aligned yet: correct in place (no lateral sweep at height)
    near = ~aligned & (exy_k <= 0.01)
    out[near, :2] = txy[near]
    out[near, 2] = np.maximum(ee[near, 2], gz[near])
    out[:, 3] = tyaw
    descend = aligned & ~at
    out[descend, :2] = txy[descend]
    out[descend, 2] = np.maximum(gz[descend], ee[descend, 2] - 0.02)
    out[at, :2], out[at, 2] = txy[at], gz[at]
    closed_empty = g > 0.95
    out[:, 4] = np.where(at & ~closed_empty, 1.0, 0.0)
    opening = (g > 0.05) & ~(at & ~closed_empty)
    out[opening, :3] = ee[opening]  # let go first, then move
    out[opening, 3] = yaw[opening]
    return out


class Task:
    """One task for one arm profile. Subclasses fill the class attributes and the hooks."""

    name = ""
    variants: tuple[str, ...] = ("train", "test")
    base_steps = 100
    state_fields: tuple[tuple[str, int], ...] = ()
    obs_fields: tuple[tuple[str, int], ...] = ()
    mode_field: str | None = None
    n_modes = 1
    expert_pace: float | None = 0.015  # m per tick the scripted expert moves at most (None: the arm's limit)

    def __init__(self, arm: ArmProfile):
        self.arm = arm
        lo, hi = arm.workspace_min, arm.workspace_max
        self.centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2])
        self.s = float(min(1.0, min(hi[0] - lo[0], hi[1] - lo[1]) / 0.55))
        self.max_steps = math.ceil(self.base_steps * max(1.0, 0.25 / arm.max_linear_speed))
        self.state_layout = Layout(self.state_fields)
        self.obs_layout = Layout(self.obs_fields)

    @classmethod
    def layout(cls) -> Layout:
        return Layout(cls.state_fields)

    def at(self, dx: float, dy: float) -> np.ndarray:
        """Scene-frame offset (scaled to the workspace) to base-frame xy."""
        return self.centre + self.s * np.array([dx, dy])

    def initial_ee(self, row: np.ndarray, arm: ArmProfile) -> np.ndarray:
        ee = np.zeros((arm.n_arms, EE_DIM))
        ee[:, :3] = arm.home
        return ee

    # hooks
    def sample(self, rng: np.random.Generator, variant: str) -> np.ndarray:
        raise NotImplementedError

    def physics(self, env) -> None:
        raise NotImplementedError

    @classmethod
    def milestones(cls, ts: np.ndarray) -> np.ndarray | None:
        """(N,) sub-goals reached so far (lift: 1 once the object is held), or None when the task
        defines none. A simulated operator can hand control back when this count rises."""
        return None

    def evaluate(self, env) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def observe(self, env) -> np.ndarray:
        raise NotImplementedError

    def scene(self, row: np.ndarray) -> list[SceneItem]:
        return []

    @classmethod
    def expert_targets(cls, ts: np.ndarray, ee: np.ndarray, mode: np.ndarray, opts: dict) -> np.ndarray:
        """(N, 5) targets for the active end effector from the task state and end-effector states."""
        raise NotImplementedError


def table_item(task: Task) -> SceneItem:
    lo, hi = task.arm.workspace_min, task.arm.workspace_max
    return SceneItem(
        "table",
        "box",
        ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, -0.01),
        (hi[0] - lo[0] + 0.1, hi[1] - lo[1] + 0.1, 0.02),
        0.0,
        (0.55, 0.45, 0.35, 1.0),
    )


def obj_item(name: str, row: np.ndarray, layout: Layout, prefix: str) -> SceneItem:
    pos = row[layout.slices[f"{prefix}_pos"]]
    t = int(row[layout.slices[f"{prefix}_type"]][0])
    spec = OBJECTS[t]
    shape = "box" if t == CUBE else "cylinder"
    d = 2 * spec.radius
    return SceneItem(
        name,
        shape,
        (pos[0], pos[1], pos[2] + spec.height / 2),
        (d, d, spec.height),
        float(row[layout.slices[f"{prefix}_yaw"]][0]),
        spec.color,
    )


class Expert:
    """Scripted expert: actions from the full state only (no memory), so it can take over anywhere."""

    def __init__(
        self, task_cls: type[Task], style: int | None = None, noise: float = 0.0, seed: int = 0, **opts
    ):
        if style is not None and not 0 <= style < task_cls.n_modes:
            raise ValueError(f"task {task_cls.name!r} has {task_cls.n_modes} styles; got style={style}")
        self.task_cls = task_cls
        self.layout = task_cls.layout()
        self.style = style
        self.noise = float(noise)
        self.opts = opts
        self.rng = np.random.default_rng(seed)

    def mode(self, ts: np.ndarray) -> np.ndarray:
        if self.style is not None:
            return np.full(len(ts), self.style, np.int64)
        if self.task_cls.mode_field is None:
            return np.zeros(len(ts), np.int64)
        return self.layout.view(ts, self.task_cls.mode_field).astype(np.int64)

    def milestones(self, state: np.ndarray) -> np.ndarray | None:
        """(N,) sub-goals reached in each state (Task.milestones), None if the task has none."""
        ts, _ee = split_state(np.asarray(state, float).reshape(-1, np.shape(state)[-1]), self.layout.dim)
        return self.task_cls.milestones(ts)

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        ts, ee = split_state(state, self.layout.dim)
        out = ee.copy()  # idle end effectors hold their pose
        out[:, 0] = self.task_cls.expert_targets(ts, ee, self.mode(ts), self.opts)
        pace = self.opts.get("pace", self.task_cls.expert_pace)
        if pace:  # a human-like pace: the same path, shorter steps than the arm's limit
            d = out[:, 0, :3] - ee[:, 0, :3]
            n = np.linalg.norm(d, axis=1, keepdims=True)
            out[:, 0, :3] = ee[:, 0, :3] + d * np.minimum(1.0, pace / np.maximum(n, 1e-12))
        if self.noise > 0:
            # hand noise: mostly along the motion (uneven pace), a quarter of it sideways, fading as the
            # commanded motion shrinks (precise when slow, near goals)
            d = out[:, 0, :3] - ee[:, 0, :3]
            n = np.linalg.norm(d, axis=1, keepdims=True)
            u = d / np.maximum(n, 1e-12)
            fade = self.noise * np.minimum(1.0, n / 0.015)
            k = len(ts)
            out[:, 0, :3] += fade * (u * self.rng.normal(0, 1, (k, 1)) + 0.25 * self.rng.normal(0, 1, (k, 3)))
        return out.reshape(len(ts), -1)
