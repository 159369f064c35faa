"""The MuJoCo tasks' observation layout for the real-arm observation bridge (observation_bridge.py).

The names come from ``hitl_sim.mj.layout`` (data; no mujoco import). What each entry is on a real arm:

- ``x, y, z, yaw, gripper`` per end effector: ``T_sim = T_tcp @ T(ee_offset)`` is the same frame as in
  the kinematic layout (origin between the finger pads, x the closing direction, z up when the gripper
  points down; base frame, z = 0 on the table); robosuite's grip site frame is ``T_sim @ Rx(pi)`` (same
  origin and x axis, z down). ``yaw = wrap(atan2(-X_x, X_y) - SIM_YAW_REF[arm])`` of its x axis X
  (hitl_sim ArmAdapter.ee_yaw: yaw 0 = the closing axis along base y), i.e. the kinematic layout's yaw
  minus pi/2 (minus pi more on YuMi). A parallel gripper's closing direction has two signs: the
  offset's sign choice must give yaw ~ 0 at the arm's home, as in the simulator (check on the robot).
  ``gripper`` is computed from the simulated finger values below exactly as ArmAdapter.gripper does:
  ``1 - mean(|q - closed| / |open - closed|)``.
- ``finger_0, finger_1`` (``left_``/``right_`` prefixed on YuMi): the simulated gripper's two joint
  positions (metres, ``SIM_FINGERS``). Each real finger joint's opening fraction
  ``f = clip((|q_real| - closed) / (open - closed), 0, 1)`` (``finger_range`` = (closed, open) of
  ``|q_real|``) gives ``q_sim = closed_sim + f * (open_sim - closed_sim)``: two real joints map one to
  one (Franka fr3_finger_joint1/2, WidowX left/right_finger), one real joint (YuMi gripper_<side>_joint,
  its finger mimics it) drives both simulated joints.
- ``<obj>_x/_y/_z`` and ``<obj>_qx/_qy/_qz/_qw``: the perceived pose times the object's offset
  (perceived frame -> the simulated object's body frame, e.g. a cube's centre), base frame; the
  quaternion is x, y, z, w with w >= 0 (hitl_sim arm_control.mat_to_quat_xyzw).
- ``<obj>_yaw`` (drawer's ``cab_yaw``): heading of that frame's x axis, folded by ``yaw_period``.
- ``<obj>_seen_x/_y/_z`` and ``occluded`` (cup_stack): the object's position as last seen; while its
  pose is older than its max age the last seen value is kept and ``occluded`` = 1, as the simulator
  does while the held cup hides B. Never seen yet: no observation.
- anything else (drawer's ``open_0..2``): ``constants`` only; the bridge has no input for them.
"""

from __future__ import annotations

import math

import numpy as np

POSE_ATTRS = {"x": 0, "y": 1, "z": 2}
QUAT_ATTRS = {"qx": 0, "qy": 1, "qz": 2, "qw": 3}
SEEN_ATTRS = {"seen_x": 0, "seen_y": 1, "seen_z": 2}
OBJECT_ATTRS = (*POSE_ATTRS, *QUAT_ATTRS, *SEEN_ATTRS, "yaw")


def quat_xyzw(R: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion x, y, z, w with w >= 0 (Shepperd's method, no scipy)."""
    m = np.asarray(R, float)
    tr = float(np.trace(m))
    if tr > 0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-12))
        q = np.zeros(4)
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        q[3] = (m[k, j] - m[j, k]) / s
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def sim_yaw(R: np.ndarray, yaw_ref: float) -> float:
    """The MuJoCo tasks' end-effector yaw of a frame whose x axis plays the grip site's x axis."""
    a = float(math.atan2(-R[0, 0], R[1, 0]) - yaw_ref)
    return float(math.pi - np.mod(math.pi - a, 2 * math.pi))


def sim_fingers(
    real: list[float], finger_range: tuple[float, float], sim: tuple[tuple[float, float], tuple[float, float]]
) -> np.ndarray:
    """(2,) simulated finger joints from one end effector's real finger joints (one or two values)."""
    closed, opened = finger_range
    fracs = [min(1.0, max(0.0, (abs(q) - closed) / (opened - closed))) for q in real]
    if len(fracs) == 1:
        fracs = fracs * 2
    return np.array([c + f * (o - c) for f, (o, c) in zip(fracs, sim)])


def sim_gripper(fingers: np.ndarray, sim: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """0 open .. 1 closed from simulated finger joints (ArmAdapter.gripper)."""
    frac = [abs(q - c) / abs(o - c) for q, (o, c) in zip(fingers, sim)]
    return float(np.clip(1.0 - np.mean(frac), 0.0, 1.0))


def resolve(
    names: list[str], n_ee: int, objects: set[str], constants: dict[str, tuple[float, ...]], fields: dict[str, str]
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Task entries (after the end effector, before the fingers) -> (field, source kind, detail) and the
    entries with no source. Kinds: constant, occluded, or an OBJECT_ATTRS attr with the object name."""
    task_names = names[5 * n_ee : len(names) - 2 * n_ee]
    plan: list[tuple[str, str, str]] = []
    missing: list[str] = []
    for fname in task_names:
        if fname in constants:
            plan.append((fname, "constant", fname))
            continue
        if fname in fields:
            obj, _, attr = fields[fname].partition(".")
        elif fname == "occluded":
            plan.append((fname, "occluded", ""))
            continue
        else:
            obj, attr = next(((o, fname[len(o) + 1 :]) for o in objects if fname.startswith(o + "_")), ("", ""))
        if obj in objects and attr in OBJECT_ATTRS:
            plan.append((fname, attr, obj))
        else:
            missing.append(fname)
    return plan, missing
