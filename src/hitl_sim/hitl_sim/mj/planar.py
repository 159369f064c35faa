"""Cheap planar MuJoCo tasks for fleets: ``push`` (IIFL's pushing around an obstacle) and ``nav`` (IIFL's fork + wind).

No arm model: the end effector is a pusher body on two slide joints (x, y) driven by position
actuators at a fixed height, so one robot is a handful of bodies and 100 robots step fast. Actions
keep the project's convention ``[x, y, z, yaw, gripper]`` (absolute targets); z, yaw and gripper are
held (the pusher only moves in the plane). Each control tick the setpoint moves toward the target by
at most ``arm.max_step()`` (the arm's speed limit), then MuJoCo runs ``SUBSTEPS`` physics steps.

- push: a puck (slide x/y joints, table friction as joint friction) starts left of a wall-like
  obstacle and must reach a goal right of it. Two ways round (above or below); the operator's style
  (the hidden ``mode``) picks one; averaging them drives the puck into the obstacle (a hard reset).
- nav: the pusher itself goes round a round obstacle (two branches), then through a narrow corridor
  to the goal. Test variant: an unobserved wind displaces the robot by 0.75 x its nominal step per
  tick toward +y inside the corridor; only a policy that counter-steers survives (as docs/sim.md's
  kinematic nav).

Layouts are in a scene frame centred in the arm's workspace (Franka: x 0.525, y 0).
"""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np

from hitl_sim.arms import ArmProfile
from hitl_sim.core import SceneItem
from hitl_sim.mj.base import MjExpert, MjTask

SUBSTEPS = 10  # physics steps per control tick (10 ms at 10 Hz)
EE_NAMES = ["x", "y", "z", "yaw", "gripper"]


def _pusher_xml(radius: float, z: float) -> str:
    return f"""
    <body name="pusher" pos="0 0 {z}">
      <joint name="px" type="slide" axis="1 0 0" damping="0"/>
      <joint name="py" type="slide" axis="0 1 0" damping="0"/>
      <geom name="pusher" type="sphere" size="{radius}" mass="1" rgba="0.2 0.3 0.9 1"
            contype="1" conaffinity="1"/>
    </body>"""


_ACTUATORS = """
  <actuator>
    <position name="ax" joint="px" kp="2500" kv="100"/>
    <position name="ay" joint="py" kp="2500" kv="100"/>
  </actuator>"""


class _PlanarTask(MjTask):
    """Shared pusher mechanics; subclasses build the scene and the state."""

    arms: ClassVar[tuple[str, ...]] = ("franka",)
    unsupported: ClassVar[dict[str, str]] = {
        "widowx": "expert below the bar: on the WidowX profile (scene scaled by 0.55, 0.12 m/s) the experts "
                  "measured 73 % (push) and 0 % (nav) over 200 episodes (bench/results/sim.json)",
        "yumi": "not measured: the planar fleet tasks were built and measured on the Franka profile only",
    }
    PUSHER_R = 0.012
    PLANE_Z = 0.02  # the pusher sphere's centre: the puck's mid-height

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.centre = (arm.workspace_min[:2] + arm.workspace_max[:2]) / 2
        self.s = float(min(1.0, (arm.workspace_max[:2] - arm.workspace_min[:2]).min() / 0.55))
        self.dt = arm.dt
        self.action_names = list(EE_NAMES)
        self.model = mujoco.MjModel.from_xml_string(self.xml())
        self.model.opt.timestep = self.dt / SUBSTEPS
        self.data = mujoco.MjData(self.model)
        self._q_pusher = np.array([self.model.joint("px").qposadr[0], self.model.joint("py").qposadr[0]])
        self._v_pusher = np.array([self.model.joint("px").dofadr[0], self.model.joint("py").dofadr[0]])
        self.setpoint = np.zeros(2)

    def at(self, x: float, y: float) -> np.ndarray:
        """Scene-frame point (metres, Franka scale) -> base frame."""
        return self.centre + self.s * np.array([x, y])

    # --- to implement -------------------------------------------------------------------------
    def xml(self) -> str:
        raise NotImplementedError

    def task_state(self) -> np.ndarray:
        raise NotImplementedError

    # --- pusher ---------------------------------------------------------------------------------
    def pusher_xy(self) -> np.ndarray:
        return self.data.qpos[self._q_pusher].copy()

    def place_pusher(self, xy: np.ndarray) -> None:
        self.data.qpos[self._q_pusher] = xy
        self.data.qvel[self._v_pusher] = 0.0
        self.setpoint = np.asarray(xy, float).copy()
        self.data.ctrl[:2] = self.setpoint

    def current_action(self) -> np.ndarray:
        x, y = self.pusher_xy()
        return np.array([x, y, self.PLANE_Z, 0.0, 0.0])

    def apply(self, action: np.ndarray) -> None:
        target = np.clip(np.asarray(action[:2], float), self.arm.workspace_min[:2], self.arm.workspace_max[:2])
        step = target - self.setpoint
        n = float(np.linalg.norm(step))
        limit = self.arm.max_step()
        if n > limit:
            step *= limit / n
        self.setpoint = self.setpoint + step
        self.data.ctrl[:2] = self.setpoint
        mujoco.mj_step(self.model, self.data, nstep=SUBSTEPS)
        self.after_step()

    def after_step(self) -> None:
        """Hook for disturbances (nav's wind)."""

    def state(self) -> np.ndarray:
        return np.concatenate([self.task_state(), self.current_action()])


# ------------------------------------------------------------------------------------------------
class PushTask(_PlanarTask):
    """IIFL's pushing around an obstacle: two ways round, the supervisor's style picks one."""

    name: ClassVar[str] = "push"
    n_modes: ClassVar[int] = 2
    PUCK_R = 0.03
    GOAL_TOL = 0.03
    OBST_HALF = (0.025, 0.05)  # obstacle half extents x, y (scene frame)
    WAY_Y = 0.15  # the two ways round pass at y = +-WAY_Y
    task_names: ClassVar[list[str]] = ["puck_x", "puck_y", "puck_vx", "puck_vy", "goal_x", "goal_y", "obst_x", "obst_y",
                  "obst_hx", "obst_hy", "mode"]

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.obs_names = [f"ee_{n}" for n in EE_NAMES] + ["puck_x", "puck_y", "goal_x", "goal_y", "obst_x",
                                                           "obst_y"]
        self.state_names = list(self.task_names) + [f"ee_{n}" for n in EE_NAMES]
        self.max_steps = 150
        self._q_puck = np.array([self.model.joint("bx").qposadr[0], self.model.joint("by").qposadr[0]])
        self._v_puck = np.array([self.model.joint("bx").dofadr[0], self.model.joint("by").dofadr[0]])
        self._obst = self.model.body("obstacle").id
        self._goal = self.model.site("goal").id
        self.goal = self.at(0.17, 0.0)
        self.mode = 0

    def xml(self) -> str:
        hx, hy = (self.s * h for h in self.OBST_HALF)
        return f"""
<mujoco model="push">
  <option gravity="0 0 -9.81" integrator="implicitfast"/>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01" pos="{self.centre[0]} {self.centre[1]} 0"
          rgba="0.8 0.8 0.8 1" contype="0" conaffinity="0"/>
    <body name="obstacle" mocap="true" pos="{self.centre[0]} {self.centre[1]} 0.03">
      <geom name="obstacle" type="box" size="{hx} {hy} 0.03" rgba="0.8 0.1 0.1 1"/>
    </body>
    <body name="puck" pos="0 0 0.02">
      <joint name="bx" type="slide" axis="1 0 0" damping="0.4" frictionloss="0.3"/>
      <joint name="by" type="slide" axis="0 1 0" damping="0.4" frictionloss="0.3"/>
      <geom name="puck" type="cylinder" size="{self.PUCK_R} 0.02" mass="0.2" rgba="0.9 0.4 0.1 1"/>
    </body>
    {_pusher_xml(self.PUSHER_R, self.PLANE_Z)}
    <site name="goal" type="cylinder" size="{self.GOAL_TOL} 0.001" pos="0 0 0.001" rgba="0.2 0.8 0.2 0.5"/>
  </worldbody>
  {_ACTUATORS}
</mujoco>"""

    def reset(self, rng: np.random.Generator) -> None:
        mujoco.mj_resetData(self.model, self.data)
        test = self.variant == "test"
        spread = 0.04 if test else 0.02
        puck = self.at(-0.15 + rng.uniform(-0.02, 0.02), rng.uniform(-spread, spread))
        self.goal = self.at(0.17 + rng.uniform(-0.01, 0.01), rng.uniform(-spread, spread))
        self.data.qpos[self._q_puck] = puck
        self.model.site_pos[self._goal, :2] = self.goal
        self.mode = int(rng.integers(2))
        self.place_pusher(puck - np.array([self.PUCK_R + self.PUSHER_R + 0.03 + rng.uniform(0, 0.02),
                                           rng.uniform(-0.01, 0.01)]))
        mujoco.mj_forward(self.model, self.data)

    def puck_xy(self) -> np.ndarray:
        return self.data.qpos[self._q_puck].copy()

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.puck_xy(), self.goal, self.centre]).astype(np.float32)

    def task_state(self) -> np.ndarray:
        hx, hy = (self.s * h for h in self.OBST_HALF)
        return np.concatenate([self.puck_xy(), self.data.qvel[self._v_puck], self.goal, self.centre,
                               [hx, hy, self.mode]])

    def evaluate(self) -> tuple[bool, bool]:
        p = self.puck_xy()
        success = bool(np.linalg.norm(p - self.goal) < self.GOAL_TOL)
        hx, hy = (self.s * h for h in self.OBST_HALF)
        gap = np.maximum(np.abs(p - self.centre) - np.array([hx, hy]), 0.0)
        hit = float(np.linalg.norm(gap)) < self.PUCK_R + 0.002  # puck against the obstacle
        q = self.pusher_xy()
        gap_p = np.maximum(np.abs(q - self.centre) - np.array([hx, hy]), 0.0)
        hit_p = float(np.linalg.norm(gap_p)) < self.PUSHER_R + 0.002
        lo, hi = self.arm.workspace_min[:2] - 0.02, self.arm.workspace_max[:2] + 0.02
        off = bool(np.any(p < lo) or np.any(p > hi))
        return success, bool(hit or hit_p or off)

    def scene(self) -> list[SceneItem]:
        hx, hy = (self.s * h for h in self.OBST_HALF)
        p = self.puck_xy()
        return [
            SceneItem("obstacle", "box", (self.centre[0], self.centre[1], 0.03), (2 * hx, 2 * hy, 0.06), 0.0,
                      (0.8, 0.1, 0.1, 1.0)),
            SceneItem("puck", "cylinder", (p[0], p[1], 0.02), (2 * self.PUCK_R, 2 * self.PUCK_R, 0.04), 0.0,
                      (0.9, 0.4, 0.1, 1.0)),
            SceneItem("goal", "cylinder", (self.goal[0], self.goal[1], 0.001),
                      (2 * self.GOAL_TOL, 2 * self.GOAL_TOL, 0.002), 0.0, (0.2, 0.8, 0.2, 0.5)),
        ]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _outside_box(xy: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Move targets inside the (inflated) obstacle box out through its nearest face."""
    rel = xy - centre
    depth = half - np.abs(rel)  # > 0 on both axes: inside
    inside = (depth > 0).all(1)
    if not inside.any():
        return xy
    out = xy.copy()
    axis = np.argmin(depth, axis=1)
    for i in np.flatnonzero(inside):
        k = axis[i]
        out[i, k] = centre[i, k] + np.sign(rel[i, k] or 1.0) * half[i, k]
    return out


class PushExpert(MjExpert):
    """Pushes the puck round the obstacle on its style's side (0: +y, 1: -y), then to the goal.

    From the state only: the side is the puck's side once it has left the centre line (an operator
    taking over finishes the way the robot started), else the style (None: the hidden mode). The
    pusher gets behind the puck (relative to the next sub-goal) by going round it, then pushes.
    """

    n_modes: ClassVar[int] = 2
    PACE = 0.015  # metres per tick while pushing (a human-like pace)

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        st = np.atleast_2d(np.asarray(state, float))
        n = len(st)
        puck, goal, obst, half = st[:, 0:2], st[:, 4:6], st[:, 6:8], st[:, 8:10]
        mode = st[:, 10].astype(int) if self.style is None else np.full(n, self.style)
        ee = st[:, 11:16]
        e = ee[:, :2]
        rel_y = puck[:, 1] - obst[:, 1]
        committed = np.abs(rel_y) > 0.9 * half[:, 1]
        side = np.where(committed, np.sign(rel_y), np.where(mode == 0, 1.0, -1.0))
        way_y = obst[:, 1] + side * PushTask.WAY_Y * half[:, 1] / PushTask.OBST_HALF[1]
        w1 = np.stack([obst[:, 0] - half[:, 0] - 0.005, way_y], 1)  # before the obstacle, on the way round
        w2 = np.stack([obst[:, 0] + half[:, 0] + 0.04, way_y], 1)  # past it (the pusher behind clears it too)
        sub = np.where((puck[:, 0] < w1[:, 0] - 0.015)[:, None], w1,
                       np.where((puck[:, 0] < w2[:, 0] - 0.02)[:, None], w2, goal))
        u = _unit(sub - puck)
        nrm = np.stack([-u[:, 1], u[:, 0]], 1)
        rs = PushTask.PUCK_R + PushTask.PUSHER_R
        rel = e - puck
        along = (rel * u).sum(1)
        lat = (rel * nrm).sum(1)
        # orbit the puck toward the point behind it (at most 45 deg per move, so never across the puck)
        theta = np.arctan2(lat, -along)  # 0: straight behind the puck
        new_theta = theta - np.sign(theta) * np.minimum(np.abs(theta), np.pi / 4)
        radius = rs + 0.012
        back = -u
        orbit = puck + radius * (np.cos(new_theta)[:, None] * back + np.sin(new_theta)[:, None] * nrm)
        out_xy = orbit
        # behind and aligned: push toward the sub-goal
        aligned = (along < -rs + 0.004) & (along > -rs - 0.03) & (np.abs(lat) < 0.008)
        rem = np.linalg.norm(sub - puck, axis=1)
        push = puck - u * rs + u * np.minimum(self.PACE, rem + 0.005)[:, None]
        out_xy[aligned] = push[aligned]
        # pace the approach moves too
        d = out_xy - e
        dn = np.linalg.norm(d, axis=1, keepdims=True)
        out_xy = e + d * np.minimum(1.0, self.PACE / np.maximum(dn, 1e-9))
        if self.noise > 0:
            out_xy = out_xy + self.rng.normal(0, self.noise, out_xy.shape) * np.minimum(1.0, dn / self.PACE)
        out_xy = _outside_box(out_xy, obst, half + PushTask.PUSHER_R + 0.008)
        out = ee.copy()
        out[:, :2] = out_xy
        return out

    def milestones(self, state: np.ndarray) -> np.ndarray | None:
        st = np.atleast_2d(np.asarray(state, float))
        return (st[:, 0] > st[:, 6] + st[:, 8]).astype(float)  # past the obstacle


# ------------------------------------------------------------------------------------------------
class NavTask(_PlanarTask):
    """IIFL's fork + wind: round an obstacle (two branches), then a corridor narrower than the wind's push."""

    name: ClassVar[str] = "nav"
    n_modes: ClassVar[int] = 2
    WIND = 0.75
    task_names: ClassVar[list[str]] = ["start_x", "start_y", "obst_x", "obst_y", "obst_r", "corr_x0", "corr_x1",
                                       "corr_y", "corr_hw", "goal_x", "goal_y", "goal_tol", "wind", "speed", "branch"]

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.obs_names = [f"ee_{n}" for n in EE_NAMES]
        self.state_names = list(self.task_names) + [f"ee_{n}" for n in EE_NAMES]
        self.max_steps = 80
        step = arm.max_step()
        self.obst = self.at(-0.07, 0.0)
        self.obst_r = 0.05 * self.s
        self.corr = (self.at(0.05, 0)[0], self.at(0.19, 0)[0], self.centre[1], 0.25 * step)
        self.goal = self.at(0.22, 0.0)
        self.goal_tol = 0.02 * self.s
        self.speed = 0.5 * step
        self.wind = self.WIND * self.speed if variant == "test" else 0.0
        self.start = self.at(-0.22, 0.0)
        self.branch = 0

    def xml(self) -> str:
        o, r = self.at(-0.07, 0.0), 0.05 * self.s
        x0, x1 = self.at(0.05, 0)[0], self.at(0.19, 0)[0]
        hw = 0.25 * self.arm.max_step()
        cx, ln = (x0 + x1) / 2, (x1 - x0) / 2
        cy = self.centre[1]
        g = self.at(0.22, 0.0)
        walls = "".join(
            f'<geom name="wall_{k}" type="box" size="{ln} 0.01 0.03" '
            f'pos="{cx} {cy + sgn * (hw + 0.01 + self.PUSHER_R)} 0.03" rgba="0.3 0.3 0.3 0.8" '
            'contype="0" conaffinity="0"/>'
            for k, sgn in ((0, 1), (1, -1)))
        return f"""
<mujoco model="nav">
  <option gravity="0 0 -9.81" integrator="implicitfast"/>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01" pos="{self.centre[0]} {cy} 0" rgba="0.8 0.8 0.8 1"
          contype="0" conaffinity="0"/>
    <geom name="obstacle" type="cylinder" size="{r} 0.03" pos="{o[0]} {o[1]} 0.03" rgba="0.8 0.1 0.1 0.8"
          contype="0" conaffinity="0"/>
    {walls}
    <site name="goal" type="sphere" size="{0.02 * self.s}" pos="{g[0]} {g[1]} {self.PLANE_Z}" rgba="0.1 0.8 0.1 0.6"/>
    {_pusher_xml(self.PUSHER_R, self.PLANE_Z)}
  </worldbody>
  {_ACTUATORS}
</mujoco>"""

    def reset(self, rng: np.random.Generator) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.start = self.at(-0.22 + rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01))
        self.branch = int(rng.integers(2))
        self.place_pusher(self.start)
        mujoco.mj_forward(self.model, self.data)

    def _windy(self, xy: np.ndarray) -> bool:
        return bool(self.corr[0] <= xy[0] <= self.goal[0] + 0.05)

    def apply(self, action: np.ndarray) -> None:
        windy = self._windy(self.pusher_xy())
        super().apply(action)
        if windy and self.wind:
            q = self.pusher_xy()
            q[1] += self.wind
            self.data.qpos[self._q_pusher] = q
            self.setpoint = self.setpoint + np.array([0.0, self.wind])
            self.data.ctrl[:2] = self.setpoint
            mujoco.mj_forward(self.model, self.data)

    def observe(self) -> np.ndarray:
        return self.current_action().astype(np.float32)

    def task_state(self) -> np.ndarray:
        c = self.corr
        return np.array([*self.start, *self.obst, self.obst_r, c[0], c[1], c[2], c[3], *self.goal, self.goal_tol,
                         self.wind, self.speed, self.branch], float)

    def evaluate(self) -> tuple[bool, bool]:
        p = self.pusher_xy()
        hit = float(np.linalg.norm(p - self.obst)) < self.obst_r
        x0, x1, cy, hw = self.corr
        wall = (x0 <= p[0] <= x1) and abs(p[1] - cy) > hw
        ok = float(np.linalg.norm(p - self.goal)) < self.goal_tol
        return ok, bool(hit or wall)

    def scene(self) -> list[SceneItem]:
        x0, x1, cy, hw = self.corr
        items = [
            SceneItem("obstacle", "cylinder", (self.obst[0], self.obst[1], 0.03), (2 * self.obst_r,) * 2 + (0.06,),
                      0.0, (0.8, 0.1, 0.1, 0.8)),
            SceneItem("goal", "sphere", (self.goal[0], self.goal[1], self.PLANE_Z), (2 * self.goal_tol,) * 3, 0.0,
                      (0.1, 0.8, 0.1, 0.6)),
        ]
        for k, sgn in ((0, 1), (1, -1)):
            items.append(SceneItem(f"wall_{k}", "box", ((x0 + x1) / 2, cy + sgn * (hw + 0.02), 0.03),
                                   (x1 - x0, 0.02, 0.06), 0.0, (0.3, 0.3, 0.3, 0.8)))
        return items


class NavExpert(MjExpert):
    """Round the obstacle on the style's branch (0: +y, 1: -y), then along the corridor to the goal.

    ``know_wind`` (default True): counter-steer by the wind the state carries (the human sees the
    robot drift); False is the training-only baseline that ignores it.
    """

    n_modes: ClassVar[int] = 2

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        st = np.atleast_2d(np.asarray(state, float))
        n = len(st)
        obst, r = st[:, 2:4], st[:, 4]
        x0, cy = st[:, 5], st[:, 7]
        goal, wind, speed = st[:, 9:11], st[:, 12], st[:, 13]
        branch = st[:, 14].astype(int) if self.style is None else np.full(n, self.style)
        ee = st[:, 15:20]
        e = ee[:, :2]
        committed = (np.abs(e[:, 1] - obst[:, 1]) > 0.3 * r) & (e[:, 0] > obst[:, 0] - 1.5 * r)
        side = np.where(committed, np.sign(e[:, 1] - obst[:, 1]), np.where(branch == 0, 1.0, -1.0))
        # waypoints: beside the obstacle on the branch, then the corridor entrance on its axis, then the goal
        beside = np.stack([obst[:, 0], obst[:, 1] + side * (r + 0.035)], 1)
        entry = np.stack([x0 - 0.02, cy], 1)
        before_obst = e[:, 0] < obst[:, 0] - 0.005
        before_entry = e[:, 0] < x0 - 0.025
        sub = np.where(before_obst[:, None], beside, np.where(before_entry[:, None], entry, goal))
        # corridor: stay on the axis (y = cy) while moving along x
        in_corr = ~before_entry
        sub[in_corr, 1] = cy[in_corr]
        d = sub - e
        dn = np.linalg.norm(d, axis=1, keepdims=True)
        pace = np.where(in_corr, speed, 1.5 * speed)[:, None]
        xy = e + d * np.minimum(1.0, pace / np.maximum(dn, 1e-9))
        if self.opts.get("know_wind", True):
            windy = e[:, 0] >= x0 - 1e-9
            xy[windy, 1] -= wind[windy]
        if self.noise > 0:
            xy = xy + self.rng.normal(0, self.noise, xy.shape)
        out = ee.copy()
        out[:, :2] = xy
        return out
