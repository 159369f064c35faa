"""Shared adapter: the project's absolute end-effector targets -> robosuite's OSC, frames, and read-outs.

API (stable; the robosuite tasks here and the drawer/cup_stack scenes build on it):

- ``ROBOSUITE_ROBOTS``: arm profile name -> robosuite robot name (one line per arm).
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
    (5 per end effector), ``grasping(obj, k)`` (both finger pads touch ``obj``'s geoms).
  - control: ``reset()`` after every ``env.reset()`` (and after moving objects), ``apply(action)`` =
    one control tick toward the absolute targets (the physics substeps are robosuite's).

Frames. Our base frame is the robot's base body (x forward, y left, its yaw) moved down onto the
table top, so z = 0 is the table surface as in the kinematic simulator and on a table-mounted
Franka; robosuite's own base frame sits on its mount, 0.112 m above the table for the Panda.

End effector. The point is robosuite's ``grip_site`` (between the finger tips); the gripper points
down; ``yaw`` is its rotation about base z from the reference orientation in which the fingers
close along base y (the Panda's home). A parallel gripper is the same under a half turn, and a
wrist cannot turn freely, so a yaw target is reached modulo pi: the equivalent target inside
[-YAW_LIMIT, YAW_LIMIT] nearest the current yaw. The reported yaw is the actual one.

Speed. The pose reference handed to the OSC moves toward the (workspace-clipped) target by at most
``max_linear_speed * dt`` and ``max_angular_speed * dt`` per tick from the previous reference, and
never runs more than LEAD ticks' worth ahead of the actual hand (no wind-up when blocked). The
gripper command is binary as robosuite's grippers are: >= 0.5 closes, < 0.5 opens.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from hitl_sim.arms import ArmProfile

# our arm profile name -> robosuite robot name (add an arm here after registering its robosuite model)
ROBOSUITE_ROBOTS: dict[str, str] = {"franka": "Panda", "yumi": "Yumi", "widowx": "WidowX250"}
# robosuite robot name -> its arms in our end-effector order (robosuite lists bimanual arms right, left)
ROBOT_ARMS: dict[str, tuple[str, ...]] = {"Yumi": ("left", "right")}

YAW_LIMIT = 1.75  # rad: commanded yaw stays within +- this (modulo pi), inside every wrist's range
LEAD = 2.5  # the reference runs at most this many max steps ahead of the actual hand
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
    """The target + k*pi inside [-limit, limit] nearest ``current``."""
    cands = target + np.pi * np.arange(-3, 4)
    cands = cands[np.abs(cands) <= limit]
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


def controller_config(arm: ArmProfile) -> dict[str, Any]:
    """robosuite BASIC composite controller with absolute world-frame OSC_POSE arms."""
    from robosuite.controllers import load_composite_controller_config

    robot = ROBOSUITE_ROBOTS[arm.name]
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
    if arm.name not in ROBOSUITE_ROBOTS:
        raise ValueError(f"no robosuite robot for arm {arm.name!r}; known: {sorted(ROBOSUITE_ROBOTS)}")
    robot = ROBOSUITE_ROBOTS[arm.name]
    # robosuite logs ~8 controller-config warnings per env built (parts the robot lacks): at WARNING they
    # drown the progress output of collection and demos; errors still show
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    if robot == "Yumi":
        import robosuite_models  # noqa: F401  (registers Yumi with robosuite)
    if robot == "WidowX250":
        import hitl_sim.mj.widowx  # noqa: F401  (registers the WidowX 250 model written here)
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


class ArmAdapter:
    """Absolute [x, y, z, yaw, gripper] per end effector -> robosuite OSC actions; frames; read-outs."""

    def __init__(self, env, arm: ArmProfile) -> None:
        self.env = env
        self.arm = arm
        self.robot = env.robots[0]
        self.sides = robot_arms(ROBOSUITE_ROBOTS[arm.name])
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
        return self.to_base(np.array(self.env.sim.data.site_xpos[self._site[k]]))

    def ee_yaw(self, k: int = 0) -> float:
        return yaw_of_axis(self.ee_rot(k)[:, 0])

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
        """Both finger pads of end effector ``k`` touch ``obj`` (a robosuite MujocoObject or geom names)."""
        return bool(self.env._check_grasp(gripper=self.robot.gripper[self.sides[k]], object_geoms=obj))

    # --------------------------------------------------------------- control
    def reset(self) -> None:
        """Re-anchor the pose references at the hand (call after env.reset() and after moving things)."""
        self.env.sim.forward()
        for k in range(self.n_arms):
            self.ref_pos[k] = self.ee_pos(k)
            self.ref_yaw[k] = nearest_yaw(self.ee_yaw(k), self.ee_yaw(k))

    def _arm_goal(self, k: int, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = self.arm.max_linear_speed * self.dt
        goal = np.clip(target[:3], self._ws_min, self._ws_max)
        d = goal - self.ref_pos[k]
        n = float(np.linalg.norm(d))
        ref = self.ref_pos[k] + (d * min(1.0, step / n) if n > 1e-12 else 0.0)
        ee = self.ee_pos(k)
        lead = ref - ee
        ln = float(np.linalg.norm(lead))
        if ln > LEAD * step:
            ref = ee + lead * (LEAD * step / ln)
        self.ref_pos[k] = ref
        max_rot = self.arm.max_angular_speed * self.dt
        want = nearest_yaw(float(target[3]), self.ref_yaw[k])
        self.ref_yaw[k] = self.ref_yaw[k] + float(np.clip(want - self.ref_yaw[k], -max_rot, max_rot))
        rot_world = self.base_rot @ rot_z(self.ref_yaw[k]) @ R0
        from scipy.spatial.transform import Rotation

        return self.to_world(ref), Rotation.from_matrix(rot_world).as_rotvec()

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
