"""Real-arm observation: joint state (+ Franka's measured pose) and perceived object poses -> the task's
observation vector, in exactly the simulator's order and units (``hitl_sim`` ``env.obs_names``).

Two layouts: ``simulator: mujoco`` (the default: the MuJoCo tasks', on which policies are trained;
observation_bridge_mj.py says what each entry is on a real arm) and ``simulator: kinematic`` (the
kinematic simulator's, hitl_sim/tasks; what the rest of this docstring describes).

Pure Python (no rclpy): ``observation_bridge_node`` feeds it messages as plain arrays and publishes what
:meth:`ObservationBridge.build` returns. See docs/arms.md, "Observations on a real arm".

End effectors. WidowX and YuMi: forward kinematics of the adapters' chains (``widowx_chain``: the
simulator's MJCF, the WidowX adapter's own model; ``yumi_chain``: the bundled URDF, which agrees with the
YuMi adapter's MJCF to 0.25 mm; the arm's ``ee_frames``, YuMi left then right). Franka: the measured pose of the
controller (``/franka_robot_state_broadcaster/current_pose``, the same input the Franka adapter uses;
libfranka computes it with Franka's own model). The simulator's end effector is a fingertip point with
a heading: x, y, z and yaw, where yaw 0 means the fingers close along the base x axis. The TCP frame of
a real gripper is turned into that frame by an explicit, configured offset
``T_sim = T_tcp @ T(ee_offset_xyz, ee_offset_rpy)`` (URDF rpy); yaw is the heading of the resulting x
axis (the closing direction). ``Observation.ee_poses`` carries the TCP pose itself (the frame the
adapters command); ``data`` carries the simulator's x, y, z, yaw, gripper.

Gripper: 0 open .. 1 closed, as the simulator: ``g = clip(1 - w / gripper_max_width, 0, 1)`` where the
opening ``w = finger_scale * sum(|finger joint positions|)`` and gripper_max_width comes from the arm
profile (the same width the simulator and the adapters use: an object of width W is held at
``g = 1 - W / gripper_max_width``).

Objects: one ``PoseStamped`` per object in the arm base frame. ``offset_xyz``/``offset_rpy`` take the
perceived frame (e.g. a tag on the top face) to the simulator's object frame: origin at the centre of
the object's base (bottom face), z up, yaw about z. Static features (one-hot type, radius, height,
first grasp candidate) come from hitl_sim's object catalogue, as in ``Lift.observe``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hitl_teleop import observation_bridge_mj as mj
from hitl_teleop.adapters.kinematics import Chain, matrix_to_pose, pose_to_matrix, rpy_to_matrix, transform
from hitl_teleop.bridge_episodes import EpisodeEventOut, Episodes  # noqa: F401  (re-exported for the node)
from hitl_teleop.tool_frame import ToolFrame, heading

ARMS = ("franka", "widowx", "yumi")
SIMULATORS = ("mujoco", "kinematic")
PERCEIVED_ATTRS = {"pos": 3, "xy": 2, "z": 1, "yaw": 1}
STATIC_ATTRS = {"is": None, "radius": 1, "height": 1, "feature": 3}  # None: any width (one-hot)


class BridgeConfigError(ValueError):
    """The bridge cannot be built for this arm/task/configuration (one-line message)."""


@dataclass(frozen=True)
class ArmInputs:
    """Where one arm's state comes from and how its TCP maps onto the simulator's end effector."""

    joint_states_topic: str
    ee_pose_topic: str  # '' = forward kinematics from the joint states
    finger_joints: tuple[tuple[str, ...], ...]  # per end effector
    finger_scale: float  # opening width (m) = finger_scale * sum(|finger joint positions|)
    ee_offset_rpy: tuple[float, float, float]  # TCP frame -> simulator end-effector frame
    ee_offset_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    finger_range: tuple[float, float] = (0.0, 0.04)  # mujoco: |finger joint| closed, open (observation_bridge_mj)


# Finger joints and the closing axis of each gripper (documented in docs/arms.md; check on your robot):
# franka: fr3_finger_joint1/2 are each finger's travel (0 .. 0.04 m), fingers close along the TCP y axis,
#   TCP z points out of the hand -> offset rpy (pi, 0, -pi/2) (the sign of x: ready reads MuJoCo yaw 0).
# widowx: left_finger (+0.015 .. +0.037 m) / right_finger (negative) are each finger's travel, fingers
#   close along ee_gripper_link's y axis, its x axis points out of the gripper -> rpy (-pi/2, 0, pi/2).
# yumi: gripper_<side>_joint is one finger's travel (0 .. 0.025 m, the other finger mimics it), fingers
#   close along the TCP x axis, TCP z points out of the flange -> rpy (pi, 0, 0).
ARM_DEFAULTS: dict[str, ArmInputs] = {
    "franka": ArmInputs(
        "/joint_states",
        "/franka_robot_state_broadcaster/current_pose",
        (("fr3_finger_joint1", "fr3_finger_joint2"),),
        1.0,
        (math.pi, 0.0, -math.pi / 2),  # x = -TCP y: the ready pose reads MuJoCo yaw 0, as the Panda's home
        finger_range=(0.0, 0.04),
    ),
    "widowx": ArmInputs(
        "/wx250s/joint_states",
        "",
        (("left_finger", "right_finger"),),
        1.0,
        (-math.pi / 2, 0.0, math.pi / 2),
        finger_range=(0.015, 0.037),  # Interbotix wx250s finger joint limits
    ),
    "yumi": ArmInputs(
        "/joint_states", "", (("gripper_l_joint",), ("gripper_r_joint",)), 2.0, (math.pi, 0.0, 0.0),
        finger_range=(0.0, 0.025),
    ),
}


@dataclass(frozen=True)
class ObjectConfig:
    """One perceived object: ``name`` is its prefix in the task's observation (lift: ``obj``)."""

    name: str
    topic: str
    type: str = ""  # hitl_sim catalogue name (cube, nut, hook, wide_cup, small_cup, rod); '' = none
    offset_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)  # perceived frame -> object base frame
    offset_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_period: float = 0.0  # > 0: yaw folded into (-period/2, period/2] (symmetric objects); 0: (-pi, pi]
    max_age_s: float = 0.0  # 0: the bridge's object_max_age_s


@dataclass
class BridgeConfig:
    arm: str
    task: str
    simulator: str = "mujoco"  # whose observation layout: mujoco | kinematic
    base_frame: str = ""  # '' = the arm profile's
    joint_states_topic: str = ""  # '' = ARM_DEFAULTS
    ee_pose_topic: str | None = None  # None = ARM_DEFAULTS; '' = forward kinematics
    finger_joints: tuple[tuple[str, ...], ...] | None = None
    finger_scale: float | None = None
    finger_range: tuple[float, float] | None = None  # mujoco: None = ARM_DEFAULTS
    ee_offset_xyz: tuple[float, float, float] | None = None
    ee_offset_rpy: tuple[float, float, float] | None = None
    urdf: str = ""  # yumi: kinematic model override (a URDF, as the YuMi adapter's ``urdf``)
    mjcf: str = ""  # widowx: kinematic model override (an MJCF, as the WidowX adapter's ``mjcf``)
    joint_state_max_age_s: float = 0.2
    ee_pose_max_age_s: float = 0.2
    object_max_age_s: float = 0.5
    objects: dict[str, ObjectConfig] = field(default_factory=dict)
    constants: dict[str, tuple[float, ...]] = field(default_factory=dict)  # obs field -> fixed values
    fields: dict[str, str] = field(default_factory=dict)  # obs field -> "<object>.<attr>"


@dataclass
class BridgeOutput:
    ok: bool
    reason: str = ""
    data: np.ndarray | None = None  # (obs_dim,) in ``names`` order
    ee: np.ndarray | None = None  # (n_arms, 5) simulator x, y, z, yaw, gripper
    tcp_positions: np.ndarray | None = None  # (n_arms, 3) ee_frames poses (what the adapters command)
    tcp_quaternions: np.ndarray | None = None  # (n_arms, 4) x y z w


@dataclass
class _Pose:
    T: np.ndarray
    stamp: float


def _triple(value: Any, what: str) -> tuple[float, float, float]:
    v = tuple(float(x) for x in value)
    if len(v) != 3 or not all(math.isfinite(x) for x in v):
        raise BridgeConfigError(f"{what} must be 3 finite numbers, got {list(value)}")
    return v  # type: ignore[return-value]


def _fold(yaw: float, period: float) -> float:
    """Yaw into (-period/2, period/2] (hitl_sim.core.wrap for period 2 pi)."""
    half = period / 2
    return float(half - np.mod(half - yaw, period))


def _stamp(stamp: float, received: float) -> float:
    return stamp if stamp > 0 else received


def _age_text(age: float, max_age: float) -> str:
    if age < 0:
        return f"stamped {-age:.2f} s in the future (clock not synchronised?)"
    return f"{age:.2f} s old (max {max_age:.2f} s)"


class ObservationBridge:
    """Joint states, the Franka pose and object poses in; ``build(now)`` out (or why not, in one line)."""

    def __init__(self, cfg: BridgeConfig) -> None:
        from hitl_sim.arms import load_arm_profile
        from hitl_sim.core import ee_names
        from hitl_sim.tasks import task_class
        from hitl_sim.tasks.base import OBJECTS

        if cfg.arm not in ARMS:
            raise BridgeConfigError(f"unknown arm {cfg.arm!r}: expected one of {ARMS}")
        if cfg.simulator not in SIMULATORS:
            raise BridgeConfigError(f"unknown simulator {cfg.simulator!r}: expected one of {SIMULATORS}")
        self.cfg = cfg
        self.mujoco = cfg.simulator == "mujoco"
        self.profile = load_arm_profile(cfg.arm)
        if not self.mujoco:
            try:
                self.task = task_class(cfg.task)(self.profile)
            except ValueError as exc:
                raise BridgeConfigError(str(exc)) from None
        self.n_arms = self.profile.n_arms
        self.base_frame = cfg.base_frame or self.profile.base_frame
        d = ARM_DEFAULTS[cfg.arm]
        self.joint_states_topic = cfg.joint_states_topic or d.joint_states_topic
        self.ee_pose_topic = d.ee_pose_topic if cfg.ee_pose_topic is None else cfg.ee_pose_topic
        fingers = d.finger_joints if cfg.finger_joints is None else tuple(tuple(f) for f in cfg.finger_joints)
        if len(fingers) != self.n_arms or any(not f for f in fingers):
            raise BridgeConfigError(
                f"{cfg.arm}: finger_joints needs one non-empty list of joint names per end effector "
                f"({self.n_arms}), got {[list(f) for f in fingers]}"
            )
        self.finger_joints = fingers
        self.finger_range = tuple(float(v) for v in (d.finger_range if cfg.finger_range is None else cfg.finger_range))
        if len(self.finger_range) != 2 or not 0 <= self.finger_range[0] < self.finger_range[1]:
            raise BridgeConfigError(
                f"finger_range must be (closed, open) with 0 <= closed < open, got {self.finger_range}"
            )
        self.finger_scale = float(d.finger_scale if cfg.finger_scale is None else cfg.finger_scale)
        if not self.finger_scale > 0:
            raise BridgeConfigError(f"finger_scale must be > 0, got {self.finger_scale}")
        xyz = _triple(d.ee_offset_xyz if cfg.ee_offset_xyz is None else cfg.ee_offset_xyz, "ee_offset_xyz")
        rpy = _triple(d.ee_offset_rpy if cfg.ee_offset_rpy is None else cfg.ee_offset_rpy, "ee_offset_rpy")
        self.tool = ToolFrame(xyz, rpy)
        for name in ("joint_state_max_age_s", "ee_pose_max_age_s", "object_max_age_s"):
            if not getattr(cfg, name) > 0:
                raise BridgeConfigError(f"{name} must be > 0, got {getattr(cfg, name)}")
        self.chains: list[Chain] = self._chains() if not self.ee_pose_topic else []
        if self.ee_pose_topic and self.n_arms != 1:
            raise BridgeConfigError(f"{cfg.arm}: ee_pose_topic works for one end effector only")
        self._type_index = {o.name: i for i, o in enumerate(OBJECTS)}
        if self.mujoco:
            self.names = self._mj_names()
            self._mj_plan = self._resolve_mj()
            self._plan: list[tuple[str, int, str, str]] = []
        else:
            self.names = ee_names(self.n_arms) + self.task.obs_layout.names()
            self._plan = self._resolve_fields()
        # inputs
        self.joints: dict[str, tuple[float, float]] = {}  # name -> (position, stamp)
        self.ee_pose: _Pose | None = None
        self.object_poses: dict[str, _Pose] = {}
        self.last_seen: dict[str, np.ndarray] = {}  # mujoco: occludable object -> last fresh position
        self.rejected: Counter[str] = Counter()

    # ------------------------------------------------------------------ configuration
    def _chains(self) -> list[Chain]:
        from hitl_teleop.adapters.widowx import widowx_chain
        from hitl_teleop.adapters.yumi import SIDES, yumi_chain

        try:
            if self.cfg.arm == "widowx":
                return [widowx_chain(self.cfg.mjcf)]
            if self.cfg.arm == "yumi":
                return [yumi_chain(s, self.cfg.urdf) for s in SIDES]
        except (OSError, ValueError) as exc:
            raise BridgeConfigError(f"{self.cfg.arm} kinematic model: {exc}") from None
        raise BridgeConfigError(
            f"{self.cfg.arm}: no kinematic model here; set ee_pose_topic (the measured TCP pose)"
        )

    def _object_type(self, obj: ObjectConfig) -> int | None:
        if not obj.type:
            return None
        if obj.type not in self._type_index:
            raise BridgeConfigError(
                f"object {obj.name!r}: unknown type {obj.type!r}; expected one of {sorted(self._type_index)}"
            )
        return self._type_index[obj.type]

    def _resolve_fields(self) -> list[tuple[str, int, str, str]]:
        """Per task observation field: (field, width, source kind, detail); errors name every gap."""
        objects = self.cfg.objects
        for name, obj in objects.items():
            if not obj.topic:
                raise BridgeConfigError(f"object {name!r} has no topic")
            self._object_type(obj)
            if obj.yaw_period < 0 or obj.max_age_s < 0:
                raise BridgeConfigError(f"object {name!r}: yaw_period and max_age_s must be >= 0")
        known = dict(self.task.obs_fields)
        for key in (*self.cfg.constants, *self.cfg.fields):
            if key not in known:
                raise BridgeConfigError(
                    f"task {self.cfg.task!r} has no observation entry {key!r} (entries: {list(known)})"
                )
        plan: list[tuple[str, int, str, str]] = []
        missing: list[str] = []
        used: set[str] = set()
        for fname, width in self.task.obs_fields:
            if fname in self.cfg.constants:
                values = self.cfg.constants[fname]
                if len(values) != width or not all(math.isfinite(v) for v in values):
                    raise BridgeConfigError(f"constant {fname!r} needs {width} finite value(s), got {list(values)}")
                plan.append((fname, width, "constant", fname))
                continue
            if fname in self.cfg.fields:
                obj_name, _, attr = self.cfg.fields[fname].partition(".")
            else:
                obj_name, attr = next(
                    ((o, fname[len(o) + 1 :]) for o in objects if fname.startswith(o + "_")), ("", "")
                )
            if obj_name not in objects or attr not in (*PERCEIVED_ATTRS, *STATIC_ATTRS):
                if fname in self.cfg.fields:
                    raise BridgeConfigError(
                        f"fields.{fname}: {self.cfg.fields[fname]!r} is not <object>.<attr> with an object of "
                        f"{sorted(objects)} and attr in {[*PERCEIVED_ATTRS, *STATIC_ATTRS]}"
                    )
                missing.append(fname)
                continue
            expected = PERCEIVED_ATTRS.get(attr, STATIC_ATTRS.get(attr))
            if expected is not None and expected != width:
                raise BridgeConfigError(f"{fname}: {obj_name}.{attr} has {expected} value(s), the task needs {width}")
            if attr in STATIC_ATTRS and self._object_type(objects[obj_name]) is None:
                raise BridgeConfigError(
                    f"{fname}: object {obj_name!r} needs a catalogue type (type: cube | nut | ...) for {attr!r}"
                )
            used.add(obj_name)
            plan.append((fname, width, attr, obj_name))
        if missing:
            raise BridgeConfigError(
                f"task {self.cfg.task!r} on a real arm: no source for observation entries {missing}; "
                "configure them in the task YAML (nodes.observation_bridge: objects / fields / constants) "
                "or use a task whose observation perception can provide"
            )
        unused = sorted(set(objects) - used)
        if unused:
            raise BridgeConfigError(f"object(s) {unused} configured but task {self.cfg.task!r} observes none of them")
        return plan

    def _mj_names(self) -> list[str]:
        from hitl_sim.mj.layout import mj_obs_names

        try:
            return mj_obs_names(self.cfg.task, self.n_arms)
        except ValueError as exc:
            raise BridgeConfigError(str(exc)) from None

    def _resolve_mj(self) -> list[tuple[str, str, str]]:
        """MuJoCo layout: (field, source kind, detail) per task entry; errors name every gap."""
        objects = self.cfg.objects
        for name, obj in objects.items():
            if not obj.topic:
                raise BridgeConfigError(f"object {name!r} has no topic")
            if obj.yaw_period < 0 or obj.max_age_s < 0:
                raise BridgeConfigError(f"object {name!r}: yaw_period and max_age_s must be >= 0")
        known = self.names[5 * self.n_arms : len(self.names) - 2 * self.n_arms]
        for key in (*self.cfg.constants, *self.cfg.fields):
            if key not in known:
                raise BridgeConfigError(
                    f"MuJoCo task {self.cfg.task!r} has no configurable observation entry {key!r} (entries: {known})"
                )
        for key, values in self.cfg.constants.items():
            if len(values) != 1 or not math.isfinite(values[0]):
                raise BridgeConfigError(f"constant {key!r} needs 1 finite value, got {list(values)}")
        plan, missing = mj.resolve(self.names, self.n_arms, set(objects), self.cfg.constants, self.cfg.fields)
        if missing:
            raise BridgeConfigError(
                f"MuJoCo task {self.cfg.task!r} on a real arm: no source for observation entries {missing}; "
                "configure them in the task YAML (nodes.observation_bridge: objects / fields / constants; "
                "see docs/arms.md) or use a task whose observation perception can provide"
            )
        self.occludable = sorted({d for _f, k, d in plan if k in mj.SEEN_ATTRS})
        if any(k == "occluded" for _f, k, _d in plan) and not self.occludable:
            raise BridgeConfigError("'occluded' needs an object observed as last seen (<object>_seen_x ...)")
        unused = sorted(set(objects) - {d for _f, k, d in plan if k not in ("constant", "occluded")})
        if unused:
            raise BridgeConfigError(f"object(s) {unused} configured but task {self.cfg.task!r} observes none of them")
        return plan

    @property
    def required_joints(self) -> list[str]:
        names = [n for c in self.chains for n in c.joint_names]
        return names + [n for group in self.finger_joints for n in group]

    # ------------------------------------------------------------------ inputs
    def _reject(self, key: str, text: str) -> str:
        self.rejected[key] += 1
        return text

    def on_joint_state(self, names: list[str], positions: list[float], stamp: float, received: float) -> str:
        """Store the positions of the joints this bridge needs; '' or why the message was rejected."""
        if len(positions) != len(names):
            return self._reject(
                "joint_states malformed", f"joint_states: {len(names)} names but {len(positions)} positions"
            )
        needed = set(self.required_joints)
        values = {n: float(p) for n, p in zip(names, positions) if n in needed}
        bad = sorted(n for n, v in values.items() if not math.isfinite(v))
        if bad:
            return self._reject("joint_states non-finite", f"joint_states: non-finite position for {bad}")
        t = _stamp(stamp, received)
        for n, v in values.items():
            self.joints[n] = (v, t)
        return ""

    def on_ee_pose(
        self, position: Any, quaternion: Any, frame_id: str, stamp: float, received: float
    ) -> str:
        """The measured TCP pose (Franka); '' or why it was rejected."""
        return self._pose_in("ee_pose", position, quaternion, frame_id, stamp, received)

    def on_object_pose(
        self, name: str, position: Any, quaternion: Any, frame_id: str, stamp: float, received: float
    ) -> str:
        if name not in self.cfg.objects:
            return self._reject("unknown object", f"no object named {name!r}")
        return self._pose_in(name, position, quaternion, frame_id, stamp, received)

    def _pose_in(self, key: str, position: Any, quaternion: Any, frame_id: str, stamp: float, received: float) -> str:
        what = "ee_pose" if key == "ee_pose" else f"object {key!r}"
        p, q = np.asarray(position, float), np.asarray(quaternion, float)
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
            return self._reject(f"{what} non-finite", f"{what}: non-finite pose")
        if np.linalg.norm(q) < 1e-6:
            return self._reject(f"{what} zero quaternion", f"{what}: zero quaternion")
        if frame_id != self.base_frame:
            return self._reject(
                f"{what} wrong frame", f"{what}: frame {frame_id!r}, expected the arm base frame {self.base_frame!r}"
            )
        pose = _Pose(pose_to_matrix(p, q), _stamp(stamp, received))
        if key == "ee_pose":
            self.ee_pose = pose
        else:
            self.object_poses[key] = pose
        return ""

    # ------------------------------------------------------------------ output
    def problems(self, now: float) -> list[str]:
        """Every missing or stale input (empty: ready)."""
        out: list[str] = []
        max_j = self.cfg.joint_state_max_age_s
        absent = [n for n in self.required_joints if n not in self.joints]
        if absent:
            out.append(f"no joint state yet for {absent} on {self.joint_states_topic}")
        ages = {n: now - self.joints[n][1] for n in self.required_joints if n in self.joints}
        stale = [n for n, a in ages.items() if a > max_j or a < -max_j]
        if stale:
            worst = max(stale, key=lambda n: abs(ages[n]))
            out.append(f"joint state of {stale} stale ({_age_text(ages[worst], max_j)})")
        if self.ee_pose_topic:
            max_e = self.cfg.ee_pose_max_age_s
            if self.ee_pose is None:
                out.append(f"no ee pose yet on {self.ee_pose_topic}")
            elif abs(age := now - self.ee_pose.stamp) > max_e:
                out.append(f"ee pose on {self.ee_pose_topic} stale ({_age_text(age, max_e)})")
        for name, obj in self.cfg.objects.items():
            max_o = obj.max_age_s or self.cfg.object_max_age_s
            pose = self.object_poses.get(name)
            if pose is None:
                out.append(f"no pose yet for object {name!r} on {obj.topic}")
            elif abs(age := now - pose.stamp) > max_o and not (self.mujoco and name in self.occludable):
                out.append(f"object {name!r} pose on {obj.topic} stale ({_age_text(age, max_o)})")
        return out

    def _tcp_poses(self) -> list[np.ndarray]:
        if self.ee_pose_topic:
            assert self.ee_pose is not None
            return [self.ee_pose.T]
        return [c.fk(np.array([self.joints[n][0] for n in c.joint_names])) for c in self.chains]

    def gripper(self) -> np.ndarray:
        """(n_arms,) 0 open .. 1 closed from the finger joints (see the module docstring)."""
        width = np.array([self.finger_scale * sum(abs(self.joints[n][0]) for n in g) for g in self.finger_joints])
        return np.clip(1.0 - width / self.profile.gripper_max_width, 0.0, 1.0)

    def _object_tf(self, name: str) -> np.ndarray:
        """The object's simulator frame (perceived pose @ offset), base frame."""
        obj = self.cfg.objects[name]
        return self.object_poses[name].T @ transform(np.array(obj.offset_xyz), rpy_to_matrix(np.array(obj.offset_rpy)))

    def _object_frame(self, name: str) -> tuple[np.ndarray, float]:
        obj = self.cfg.objects[name]
        T = self._object_tf(name)
        yaw = _fold(float(heading(T[:3, :3])), obj.yaw_period or 2 * math.pi)
        return T[:3, 3], yaw

    def _field(self, attr: str, detail: str, width: int) -> np.ndarray:
        from hitl_sim.tasks.base import CAND, HEIGHT, RADIUS

        if attr == "constant":
            return np.asarray(self.cfg.constants[detail], float)
        if attr in PERCEIVED_ATTRS:
            pos, yaw = self._object_frame(detail)
            return {"pos": pos, "xy": pos[:2], "z": pos[2:], "yaw": np.array([yaw])}[attr]
        t = self._object_type(self.cfg.objects[detail])
        assert t is not None
        if attr == "is":  # as Lift.observe: one-hot of the type, the last column for every later type
            return np.eye(width)[min(t, width - 1)]
        return {"radius": RADIUS[t : t + 1], "height": HEIGHT[t : t + 1], "feature": CAND[t, 0]}[attr]

    def build(self, now: float) -> BridgeOutput:
        """The observation for time ``now`` (seconds, the stamps' clock), or why there is none."""
        issues = self.problems(now)
        if issues:
            return BridgeOutput(False, "not publishing: " + "; ".join(issues))
        tcp_positions, tcp_quaternions = (np.stack(v) for v in zip(*map(matrix_to_pose, self._tcp_poses())))
        if self.mujoco:
            return self._build_mj(now, tcp_positions, tcp_quaternions)
        ee = np.column_stack([
            self.tool.sim_positions(tcp_positions, tcp_quaternions),
            self.tool.sim_yaw(tcp_quaternions),
            self.gripper(),
        ])
        parts = [ee.reshape(-1)] + [self._field(attr, detail, w) for _f, w, attr, detail in self._plan]
        data = np.concatenate(parts)
        if not np.all(np.isfinite(data)):
            return BridgeOutput(False, self._reject("output non-finite", "not publishing: non-finite observation"))
        return BridgeOutput(True, data=data, ee=ee, tcp_positions=tcp_positions, tcp_quaternions=tcp_quaternions)

    def _build_mj(self, now: float, tcp_positions: np.ndarray, tcp_quaternions: np.ndarray) -> BridgeOutput:
        from hitl_sim.mj.layout import SIM_FINGERS, SIM_YAW_REF

        sim = SIM_FINGERS[self.cfg.arm]
        fingers = [mj.sim_fingers([self.joints[n][0] for n in g], self.finger_range, sim) for g in self.finger_joints]
        positions = self.tool.sim_positions(tcp_positions, tcp_quaternions)
        ee = []
        for k, T in enumerate(self._tcp_poses()):
            R = T[:3, :3] @ self.tool.R
            ee.append([*positions[k], mj.sim_yaw(R, SIM_YAW_REF[self.cfg.arm]), mj.sim_gripper(fingers[k], sim)])
        occluded = False
        for name in self.occludable:
            obj = self.cfg.objects[name]
            pose = self.object_poses[name]
            if abs(now - pose.stamp) <= (obj.max_age_s or self.cfg.object_max_age_s):
                self.last_seen[name] = self._object_tf(name)[:3, 3]
            else:
                occluded = True
        parts: list[float] = []
        for _fname, kind, detail in self._mj_plan:
            if kind == "constant":
                parts.append(self.cfg.constants[detail][0])
            elif kind == "occluded":
                parts.append(float(occluded))
            elif kind in mj.SEEN_ATTRS:
                parts.append(float(self.last_seen[detail][mj.SEEN_ATTRS[kind]]))
            elif kind == "yaw":
                parts.append(self._object_frame(detail)[1])
            else:
                T = self._object_tf(detail)
                parts.append(float(T[mj.POSE_ATTRS[kind], 3]) if kind in mj.POSE_ATTRS else
                             float(mj.quat_xyzw(T[:3, :3])[mj.QUAT_ATTRS[kind]]))
        ee_arr = np.array(ee, float)
        data = np.concatenate([ee_arr.reshape(-1), parts, np.concatenate(fingers)])
        if not np.all(np.isfinite(data)):
            return BridgeOutput(False, self._reject("output non-finite", "not publishing: non-finite observation"))
        return BridgeOutput(True, data=data, ee=ee_arr, tcp_positions=tcp_positions, tcp_quaternions=tcp_quaternions)


# ---------------------------------------------------------------------- configuration from parameters
_ARM_KEYS = (
    "joint_states_topic", "ee_pose_topic", "finger_joints", "finger_scale", "finger_range", "ee_offset_xyz",
    "ee_offset_rpy",
)
_OBJECT_KEYS = {f for f in ObjectConfig.__dataclass_fields__ if f != "name"}


def _finger_joints(value: Any) -> tuple[tuple[str, ...], ...]:
    """['a b', 'c'] or [['a', 'b'], ['c']] -> (('a', 'b'), ('c',)) (ROS has no nested string arrays)."""
    out = []
    for entry in value:
        names = entry.replace(",", " ").split() if isinstance(entry, str) else [str(n) for n in entry]
        out.append(tuple(names))
    return tuple(out)


def config_from_params(params: dict[str, Any]) -> BridgeConfig:
    """BridgeConfig from node parameters: flat values plus nested ``objects`` / ``constants`` / ``fields``
    mappings (ROS parameter files and launch_ros turn YAML mappings into dotted names; pass them nested
    or dotted). Unknown keys are an error; empty values mean "the arm's default"."""
    nested: dict[str, Any] = {}
    for key, value in params.items():
        node = nested
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = value
    p = dict(nested)
    arm, task = str(p.pop("arm", "")), str(p.pop("task", ""))
    kw: dict[str, Any] = {}
    for key in ("simulator", "base_frame", "urdf", "mjcf", "joint_states_topic"):
        if key in p:
            kw[key] = str(p.pop(key))
    if "ee_pose_topic" in p:
        value = str(p.pop("ee_pose_topic"))
        kw["ee_pose_topic"] = None if value == "default" else value
    for key in ("finger_scale",):
        if key in p:
            value = float(p.pop(key))
            kw[key] = value if value > 0 else None
    if "finger_joints" in p:
        fj = _finger_joints(p.pop("finger_joints"))
        kw["finger_joints"] = fj if any(fj) else None
    if "finger_range" in p:
        value = [float(v) for v in p.pop("finger_range")]
        kw["finger_range"] = tuple(value) if value else None
    for key in ("ee_offset_xyz", "ee_offset_rpy"):
        if key in p:
            value = list(p.pop(key))
            kw[key] = _triple(value, key) if value else None
    for key in ("joint_state_max_age_s", "ee_pose_max_age_s", "object_max_age_s"):
        if key in p:
            kw[key] = float(p.pop(key))
    objects: dict[str, ObjectConfig] = {}
    for name, spec in (p.pop("objects", None) or {}).items():
        if not isinstance(spec, dict):
            raise BridgeConfigError(f"objects.{name}: expected a mapping (topic, type, ...), got {spec!r}")
        unknown = sorted(set(spec) - _OBJECT_KEYS)
        if unknown:
            raise BridgeConfigError(f"objects.{name}: unknown key(s) {unknown}; known: {sorted(_OBJECT_KEYS)}")
        s = dict(spec)
        for key in ("offset_xyz", "offset_rpy"):
            if key in s:
                s[key] = _triple(s[key], f"objects.{name}.{key}")
        for key in ("yaw_period", "max_age_s"):
            if key in s:
                s[key] = float(s[key])
        objects[name] = ObjectConfig(name=name, **{k: (str(v) if k in ("topic", "type") else v) for k, v in s.items()})
    kw["objects"] = objects
    kw["constants"] = {
        k: tuple(float(x) for x in (v if isinstance(v, list | tuple) else [v]))
        for k, v in (p.pop("constants", None) or {}).items()
    }
    kw["fields"] = {k: str(v) for k, v in (p.pop("fields", None) or {}).items()}
    if p:
        raise BridgeConfigError(f"unknown observation bridge setting(s) {sorted(p)}")
    if not arm or not task:
        raise BridgeConfigError("arm and task are required")
    return BridgeConfig(arm=arm, task=task, **kw)
