"""Shared adapter: the project's absolute end-effector targets -> robosuite's OSC, frames, and read-outs.

API (stable; the robosuite tasks here and the drawer/cup_stack scenes build on it):

- ``ROBOSUITE_ROBOTS``: arm profile name -> robosuite robot, "Name" or "module:Name" where importing
  the module registers the robot model with robosuite (one line per arm; see yumi_model.py).
- ``ROBOT_ARMS``: robosuite robot name -> its arm names in OUR end-effector order (YuMi: left, right).
- ``controller_config(arm)``: robosuite BASIC composite controller, every arm an OSC_POSE controller
  taking ABSOLUTE world-frame poses (``input_type="absolute"``, ``input_ref_frame="world"``).
- ``make_suite_env(env_cls, arm, **kwargs)``: builds a robosuite environment class for the arm with
  the settings every task here uses (no renderer, no camera observations, ``hard_reset=False``,
  ``control_freq`` = the profile's ``control_rate_hz``, no initial joint noise, no horizon).
- ``ArmAdapter(env, arm)``: one per environment.
  - frames: ``base_pos``/``base_rot`` (world pose of our base frame), ``table_z`` (world),
    ``to_base(p)``, ``to_world(p)``, ``yaw_to_base(yaw_world)``, ``quat_to_base(quat_xyzw)``,
    ``rot_to_base(R)``.
  - read-outs: ``ee_pos(k)`` (3, base frame), ``ee_yaw(k)``, ``gripper(k)`` (0 open .. 1 closed,
    from the finger joints), ``finger_qpos(k)`` (the finger joints, metres), ``current_action()``
    (5 per end effector), ``grasping(obj, k)`` (every finger of end effector k touches one of the
    object's geoms: a robosuite object or a list of geom ids; found from contacts, works for any
    gripper model whose fingers are bodies under its finger joints).
  - control: ``reset()`` after every ``env.reset()`` (and after moving objects), ``apply(action)`` =
    one control tick toward the absolute targets (the physics substeps are robosuite's).

Frames. Our base frame is the robot's base body (x forward, y left, its yaw) moved down onto the
table top, so z = 0 is the table surface as in the kinematic simulator and on a table-mounted
Franka; robosuite's own base frame sits on its mount, 0.112 m above the table for the Panda.

End effector. The point is between the finger pads: robosuite's ``grip_site`` moved TCP_OFFSET along
the approach axis (0 for the Panda, 17 mm for the Yumi, whose grip_site sits above its fingers); the gripper points
down; ``yaw`` is its rotation about base z from the reference orientation in which the fingers
close along base y (the Panda's home; the Yumi's home is turned half a turn: YAW_REF). A parallel
gripper is the same under a half turn, and a
wrist cannot turn freely, so a yaw target is reached modulo pi: the equivalent target inside
[-YAW_LIMIT, YAW_LIMIT] nearest the current yaw. The reported yaw is the actual one.

Speed. The pose reference handed to the OSC moves toward the (workspace-clipped) target by at most
``max_linear_speed * dt`` and ``max_angular_speed * dt`` per tick from the previous reference, and
never runs more than LEAD ticks' worth ahead of the actual hand (no wind-up when blocked). The
gripper command is binary as robosuite's grippers are: >= 0.5 closes, < 0.5 opens. A target equal to
the current pose (within HOLD_TOL: what an idle arm's expert and a hold send) keeps the reference
where it is, so a held arm does not creep with its own tracking error.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from hitl_sim.arms import ArmProfile

# our arm profile name -> robosuite robot name (add an arm here after registering its robosuite model)
ROBOSUITE_ROBOTS: dict[str, str] = {
    "franka": "Panda",
    "yumi": "hitl_sim.mj.robosuite_tasks.yumi_model:YumiOnTable",
    "widowx": "hitl_sim.mj.widowx:WidowX250",
}
# robosuite robot name -> its arms in our end-effector order (robosuite lists bimanual arms right, left)
ROBOT_ARMS: dict[str, tuple[str, ...]] = {"Yumi": ("left", "right"), "YumiOnTable": ("left", "right")}
# robosuite robot name -> distance (m) from the gripper's grip_site to the finger pads' centre along the
# approach axis (our end-effector point is the pads' centre; the Panda's grip_site is already there)
TCP_OFFSET: dict[str, float] = {"Yumi": 0.017, "YumiOnTable": 0.017}
# robosuite robot name -> yaw of its home gripper orientation in the reference (R0) convention: yaw 0 is
# the home orientation (Yumi's hands start turned half a turn from the Panda's; same finger line)
YAW_REF: dict[str, float] = {"Yumi": np.pi, "YumiOnTable": np.pi}
# robosuite robot name -> integral gain on the position tracking error (per tick): robosuite's OSC gains
# leave the Yumi's light arms 1-2 cm short of a low target at the edge of their reach (measured); the
# Panda tracks within ~1 mm without it
TRACK_I: dict[str, float] = {"Yumi": 0.3, "YumiOnTable": 0.3}
TRACK_I_MAX = 0.03  # m: the integral correction is clipped to this norm

YAW_LIMIT = 1.75  # rad: commanded yaw stays within +- this (modulo pi), inside every wrist's range
LEAD = 2.5  # the reference runs at most this many max steps ahead of the actual hand
HOLD_TOL = 1e-3  # a target this close to the current pose (m, rad) means hold: the reference stays put
# reference top-down orientation (columns: closing axis = base y, x = base x... see module docs)
R0 = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def wrap(a: float) -> float:
    return float(np.pi - np.mod(np.pi - a, 2 * np.pi))


def yaw_of_axis(axis: np.ndarray) -> float:
    """Yaw (our convention) of a gripper whose fingers close along the horizontal part of ``axis``."""
    return float(np.arctan2(-axis[0], axis[1]))


def nearest_yaw(target: float, current: float, limit: float = YAW_LIMIT) -> float:
    """The target + k*pi inside [-limit, limit] nearest ``current`` (any finite target: a policy's yaw of
    1000 rad is the same finger line as its remainder modulo pi)."""
    base = target - np.pi * np.round(target / np.pi)  # in [-pi/2, pi/2]
    cands = base + np.pi * np.arange(-2, 3)
    cands = cands[np.abs(cands) <= limit]
    if not len(cands):  # a window narrower than pi/2 may hold no equivalent yaw: the nearest edge
        return float(np.clip(base, -limit, limit))
    return float(cands[np.argmin(np.abs(cands - current))])


def quat_xyzw_to_mat(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def mat_to_quat_xyzw(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (x, y, z, w) with w >= 0 (one sign: no jumps for learning)."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(m).as_quat()
    return q if q[3] >= 0 else -q


def robosuite_robot(arm_name: str) -> str:
    """The robosuite robot name for an arm profile, importing the module that registers it if any."""
    if arm_name not in ROBOSUITE_ROBOTS:
        raise ValueError(f"no robosuite robot for arm {arm_name!r}; known: {sorted(ROBOSUITE_ROBOTS)}")
    spec = ROBOSUITE_ROBOTS[arm_name]
    if ":" not in spec:
        return spec
    module, name = spec.split(":")
    importlib.import_module(module)
    return name


def controller_config(arm: ArmProfile) -> dict[str, Any]:
    """robosuite BASIC composite controller with absolute world-frame OSC_POSE arms."""
    from robosuite.controllers import load_composite_controller_config

    robot = robosuite_robot(arm.name)
    try:
        cfg = load_composite_controller_config(controller="BASIC", robot=robot)
    except Exception:  # robots without a robosuite default file (Yumi): the generic BASIC config
        cfg = load_composite_controller_config(controller="BASIC")
    for side in robot_arms(robot):
        part = cfg["body_parts"][side]
        part.update(type="OSC_POSE", input_type="absolute", input_ref_frame="world", interpolation=None)
    return cfg


def robot_arms(robot: str) -> tuple[str, ...]:
    return ROBOT_ARMS.get(robot, ("right",))


def make_suite_env(env_cls: type, arm: ArmProfile, **kwargs: Any):
    """A robosuite environment for ``arm`` with the settings every task here uses (kwargs override)."""
    robot = robosuite_robot(arm.name)
    # robosuite logs ~8 controller-config warnings per env built (parts the robot lacks): at WARNING they
    # drown the progress output of collection and demos; errors still show
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    opts: dict[str, Any] = dict(
        robots=robot,
        controller_configs=controller_config(arm),
        has_renderer=False,
        has_offscreen_renderer=False,
        use_camera_obs=False,
        hard_reset=False,
        control_freq=arm.control_rate_hz,
        horizon=10**9,
        ignore_done=True,
        initialization_noise=None,
        seed=0,
    )
    opts.update(kwargs)
    return env_cls(**opts)


def _is_descendant(m, body: int, root: int) -> bool:
    while body > 0:
        body = int(m.body_parentid[body])
        if body == root:
            return True
    return False


class ArmAdapter:
    """Absolute [x, y, z, yaw, gripper] per end effector -> robosuite OSC actions; frames; read-outs."""

    def __init__(self, env, arm: ArmProfile) -> None:
        self.env = env
        self.arm = arm
        self.robot = env.robots[0]
        self.sides = robot_arms(robosuite_robot(arm.name))
        self.tcp_offset = TCP_OFFSET.get(robosuite_robot(arm.name), 0.0)
        self.yaw_ref = YAW_REF.get(robosuite_robot(arm.name), 0.0)
        self.track_i = TRACK_I.get(robosuite_robot(arm.name), 0.0)
        if len(self.sides) != arm.n_arms:
            raise ValueError(f"arm {arm.name!r} has {arm.n_arms} end effectors, robosuite robot {self.sides}")
        self.n_arms = arm.n_arms
        self.dt = 1.0 / arm.control_rate_hz
        m = env.sim.model
        self._site = [m.site_name2id(self.robot.gripper[s].important_sites["grip_site"]) for s in self.sides]
        self._fingers: list[list[tuple[int, float, float]]] = []  # (qpos adr, open, closed) per finger joint
        for s in self.sides:
            joints = []
            for j in self.robot.gripper[s].joints:
                jid = m.joint_name2id(j)
                lo, hi = m.jnt_range[jid]
                closed = lo if abs(lo) < abs(hi) else hi
                opened = hi if closed == lo else lo
                joints.append((int(m.jnt_qposadr[jid]), float(opened), float(closed)))
            self._fingers.append(joints)
        # collision geoms of each finger (the body under each finger joint and its children)
        mm = m._model
        self._finger_geoms: list[list[np.ndarray]] = []
        for s in self.sides:
            groups = []
            for j in self.robot.gripper[s].joints:
                root = int(mm.jnt_bodyid[mm.joint(j).id])
                bodies = {root} | {b for b in range(mm.nbody) if _is_descendant(mm, b, root)}
                geoms = [g for g in range(mm.ngeom) if mm.geom_bodyid[g] in bodies
                         and (mm.geom_contype[g] or mm.geom_conaffinity[g])]
                groups.append(np.array(geoms, int))
            self._finger_geoms.append(groups)
        self.table_z = float(env.model.mujoco_arena.table_offset[2])
        base_body = m.body_name2id(self.robot.robot_model.root_body)
        d = env.sim.data
        env.sim.forward()
        bpos, brot = np.array(d.body_xpos[base_body]), np.array(d.body_xmat[base_body]).reshape(3, 3)
        self.base_rot = rot_z(float(np.arctan2(brot[1, 0], brot[0, 0])))
        self.base_pos = np.array([bpos[0], bpos[1], self.table_z])
        self._ws_min, self._ws_max = arm.workspace_min, arm.workspace_max
        self.ref_pos = np.zeros((self.n_arms, 3))
        self.ref_yaw = np.zeros(self.n_arms)
        self.integral = np.zeros((self.n_arms, 3))
        self.reset()

    # ---------------------------------------------------------------- frames
    def to_base(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p, float) - self.base_pos) @ self.base_rot

    def to_world(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p, float) @ self.base_rot.T + self.base_pos

    def rot_to_base(self, r_world: np.ndarray) -> np.ndarray:
        return self.base_rot.T @ r_world

    def yaw_to_base(self, yaw_world: float) -> float:
        return wrap(yaw_world - float(np.arctan2(self.base_rot[1, 0], self.base_rot[0, 0])))

    def quat_to_base(self, quat_xyzw: np.ndarray) -> np.ndarray:
        return mat_to_quat_xyzw(self.rot_to_base(quat_xyzw_to_mat(np.asarray(quat_xyzw, float))))

    # ------------------------------------------------------------- read-outs
    def ee_rot(self, k: int = 0) -> np.ndarray:
        """(3, 3) grip-site orientation in the base frame."""
        return self.rot_to_base(np.array(self.env.sim.data.site_xmat[self._site[k]]).reshape(3, 3))

    def ee_pos(self, k: int = 0) -> np.ndarray:
        d = self.env.sim.data
        site = np.array(d.site_xpos[self._site[k]])
        if self.tcp_offset:
            site = site + self.tcp_offset * np.array(d.site_xmat[self._site[k]]).reshape(3, 3)[:, 2]
        return self.to_base(site)

    def ee_yaw(self, k: int = 0) -> float:
        return wrap(yaw_of_axis(self.ee_rot(k)[:, 0]) - self.yaw_ref)

    def finger_qpos(self, k: int = 0) -> np.ndarray:
        q = self.env.sim.data.qpos
        return np.array([q[adr] for adr, _o, _c in self._fingers[k]])

    def gripper(self, k: int = 0) -> float:
        """0 fully open .. 1 fully closed, from the finger joints."""
        q = self.env.sim.data.qpos
        frac = [abs(q[adr] - c) / abs(o - c) for adr, o, c in self._fingers[k]]
        return float(np.clip(1.0 - np.mean(frac), 0.0, 1.0))

    def current_action(self) -> np.ndarray:
        out = [np.concatenate([self.ee_pos(k), [self.ee_yaw(k), self.gripper(k)]]) for k in range(self.n_arms)]
        return np.concatenate(out)

    def grasping(self, obj, k: int = 0) -> bool:
        """Every finger of end effector ``k`` touches ``obj`` (a robosuite MujocoObject or a list of geom ids)."""
        if hasattr(obj, "contact_geoms"):
            m = self.env.sim.model
            obj_geoms = np.array([m.geom_name2id(g) for g in obj.contact_geoms], int)
        else:
            obj_geoms = np.asarray(obj, int)
        d = self.env.sim.data._data
        n = d.ncon
        if n == 0:
            return False
        g1, g2 = d.contact.geom1[:n], d.contact.geom2[:n]
        on1, on2 = np.isin(g1, obj_geoms), np.isin(g2, obj_geoms)
        return all(np.any((on1 & np.isin(g2, fg)) | (on2 & np.isin(g1, fg))) for fg in self._finger_geoms[k])

    # --------------------------------------------------------------- control
    def reset(self) -> None:
        """Re-anchor the pose references at the hand (call after env.reset() and after moving things)."""
        self.env.sim.forward()
        for k in range(self.n_arms):
            self.ref_pos[k] = self.ee_pos(k)
            self.ref_yaw[k] = nearest_yaw(self.ee_yaw(k), self.ee_yaw(k))
        self.integral[:] = 0.0

    def _arm_goal(self, k: int, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = self.arm.max_linear_speed * self.dt
        goal = np.clip(target[:3], self._ws_min, self._ws_max)
        ee = self.ee_pos(k)
        if np.linalg.norm(target[:3] - ee) < HOLD_TOL and abs(wrap(float(target[3]) - self.ee_yaw(k))) < HOLD_TOL:
            goal = self.ref_pos[k].copy()  # "stay where you are": keep the reference (no creeping with the sag)
            target = np.array([*goal, self.ref_yaw[k]])
        d = goal - self.ref_pos[k]
        n = float(np.linalg.norm(d))
        ref = self.ref_pos[k] + (d * min(1.0, step / n) if n > 1e-12 else 0.0)
        lead = ref - ee
        ln = float(np.linalg.norm(lead))
        if ln > LEAD * step:
            ref = ee + lead * (LEAD * step / ln)
        self.ref_pos[k] = ref
        if self.track_i:  # integral action on the settled tracking error (clipped: no wind-up in contact)
            err = ref - ee
            if np.linalg.norm(err) < step:
                self.integral[k] += self.track_i * err
            else:  # moving: the correction learnt at the last spot fades
                self.integral[k] *= 0.5
            n_i = float(np.linalg.norm(self.integral[k]))
            if n_i > TRACK_I_MAX:
                self.integral[k] *= TRACK_I_MAX / n_i
            ref = ref + self.integral[k]
        max_rot = self.arm.max_angular_speed * self.dt
        want = nearest_yaw(float(target[3]), self.ref_yaw[k])
        self.ref_yaw[k] = self.ref_yaw[k] + float(np.clip(want - self.ref_yaw[k], -max_rot, max_rot))
        rot_world = self.base_rot @ rot_z(self.ref_yaw[k] + self.yaw_ref) @ R0
        from scipy.spatial.transform import Rotation

        site = self.to_world(ref) - self.tcp_offset * rot_world[:, 2]  # grip_site target for the pads' target
        return site, Rotation.from_matrix(rot_world).as_rotvec()

    def robosuite_action(self, action: np.ndarray) -> np.ndarray:
        """The robosuite action vector for one tick toward ``action`` (updates the references)."""
        a = np.asarray(action, float).reshape(self.n_arms, 5)
        parts: dict[str, np.ndarray] = {}
        for k, side in enumerate(self.sides):
            pos, rotvec = self._arm_goal(k, a[k])
            parts[side] = np.concatenate([pos, rotvec])
            parts[f"{side}_gripper"] = np.array([1.0 if a[k, 4] >= 0.5 else -1.0])
        return self.robot.composite_controller.create_action_vector(parts)

    def apply(self, action: np.ndarray) -> None:
        """One control tick toward the absolute targets (robosuite runs the physics substeps)."""
        self.env.step(self.robosuite_action(action))
