"""Conversions between simulator arrays and ROS messages (message packages imported lazily).

Pose convention (shared with the arbiter): an end effector's orientation is the rotation by its
yaw about the base z axis, quaternion (x, y, z, w) = (0, 0, sin(yaw/2), cos(yaw/2)).
"""

from __future__ import annotations

import math

import numpy as np

from hitl_sim.core import EE_DIM, SceneItem


def yaw_to_quat(yaw: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


def quat_to_yaw(x: float, y: float, z: float, w: float) -> float:
    """Heading about the base z axis (ZYX yaw) of any quaternion."""
    return math.atan2(2 * (x * y + w * z), 1 - 2 * (y * y + z * z))


def ee_to_pose(ee: np.ndarray):
    from geometry_msgs.msg import Pose

    p = Pose()
    p.position.x, p.position.y, p.position.z = (float(v) for v in ee[:3])
    q = yaw_to_quat(float(ee[3]))
    p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = q
    return p


def pose_to_xyzyaw(pose) -> np.ndarray:
    o = pose.orientation
    return np.array([pose.position.x, pose.position.y, pose.position.z, quat_to_yaw(o.x, o.y, o.z, o.w)])


def arm_command_to_action(msg, current: np.ndarray, n_arms: int) -> np.ndarray:
    """ArmCommand -> action row (5 per end effector); hold keeps ``current``; bad commands: ValueError."""
    current = np.asarray(current, float).reshape(n_arms * EE_DIM)
    if msg.hold:
        return current.copy()
    if len(msg.targets) != n_arms:
        raise ValueError(f"ArmCommand has {len(msg.targets)} targets; this arm has {n_arms} end effector(s)")
    if len(msg.gripper) not in (0, n_arms):
        raise ValueError(f"ArmCommand has {len(msg.gripper)} gripper values; expected {n_arms}")
    out = current.reshape(n_arms, EE_DIM).copy()
    for i, pose in enumerate(msg.targets):
        out[i, :4] = pose_to_xyzyaw(pose)
        if len(msg.gripper):
            out[i, 4] = msg.gripper[i]
    if not np.all(np.isfinite(out)):
        raise ValueError("ArmCommand contains NaN or inf")
    return out.reshape(-1)


def action_to_arm_command(
    action: np.ndarray, n_arms: int, frame_id: str = "", stamp=None, source: int = 0, hold: bool = False
):
    """Action row -> hitl_msgs/ArmCommand (for tests, tools and the simulated operator)."""
    from hitl_msgs.msg import ArmCommand

    a = np.asarray(action, float).reshape(n_arms, EE_DIM)
    msg = ArmCommand()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.source = int(source)
    msg.hold = bool(hold)
    msg.targets = [ee_to_pose(row) for row in a]
    msg.gripper = [float(g) for g in a[:, 4]]
    return msg


def observation_msg(
    names: list[str],
    data: np.ndarray,
    ee: np.ndarray,
    *,
    robot_id: str,
    task: str,
    episode: int,
    step: int,
    frame_id: str,
    stamp=None,
):
    """hitl_msgs/Observation from a vector and the end-effector rows (n_arms, 5)."""
    from hitl_msgs.msg import Observation

    msg = Observation()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.robot_id, msg.task = robot_id, task
    msg.episode, msg.step = int(episode), int(step)
    msg.names = list(names)
    msg.data = [float(v) for v in np.asarray(data, float).reshape(-1)]
    ee = np.asarray(ee, float).reshape(-1, EE_DIM)
    msg.ee_poses = [ee_to_pose(row) for row in ee]
    msg.gripper = [float(g) for g in ee[:, 4]]
    return msg


def observation_msg_to_arrays(msg) -> dict:
    """hitl_msgs/Observation -> {names, data (D,), ee (n_arms, 5), episode, step, task, robot_id, stamp}.

    ``data`` is the vector (observation or, on sim/state, the full state), ``ee`` the end effectors
    in action coordinates (x, y, z, yaw, gripper), ``stamp`` seconds (float).
    """
    ee = np.zeros((len(msg.ee_poses), EE_DIM))
    for i, pose in enumerate(msg.ee_poses):
        ee[i, :4] = pose_to_xyzyaw(pose)
        ee[i, 4] = msg.gripper[i] if i < len(msg.gripper) else 0.0
    return {
        "names": list(msg.names),
        "data": np.asarray(msg.data, float),
        "ee": ee,
        "episode": int(msg.episode),
        "step": int(msg.step),
        "task": msg.task,
        "robot_id": msg.robot_id,
        "stamp": msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec,
    }


def episode_event_msg(
    event: int,
    *,
    robot_id: str,
    episode: int,
    task: str,
    variant: str,
    success: bool = False,
    failed: bool = False,
    steps: int = 0,
    note: str = "",
    stamp=None,
):
    from hitl_msgs.msg import EpisodeEvent

    msg = EpisodeEvent()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.robot_id, msg.episode, msg.event = robot_id, int(episode), int(event)
    msg.task, msg.variant = task, variant
    msg.success, msg.failed, msg.steps, msg.note = bool(success), bool(failed), int(steps), note
    return msg


def scene_markers(items: list[SceneItem], ee: np.ndarray, frame_id: str, stamp=None, ns: str = "sim"):
    """visualization_msgs/MarkerArray: scene items plus one gripper marker per end effector."""
    from visualization_msgs.msg import Marker, MarkerArray

    shapes = {"box": Marker.CUBE, "cylinder": Marker.CYLINDER, "sphere": Marker.SPHERE}
    out = MarkerArray()
    ee = np.asarray(ee, float).reshape(-1, EE_DIM)
    grippers = [
        SceneItem(
            f"gripper_{i}",
            "box",
            (row[0], row[1], row[2] + 0.04),
            (0.02, 0.02 + 0.06 * (1 - row[4]), 0.08),
            float(row[3]),
            (0.1, 0.1, 0.1, 0.9),
        )
        for i, row in enumerate(ee)
    ]
    for k, it in enumerate([*items, *grippers]):
        m = Marker()
        m.header.frame_id = frame_id
        if stamp is not None:
            m.header.stamp = stamp
        m.ns, m.id, m.type, m.action = f"{ns}/{it.name}", k, shapes[it.shape], Marker.ADD
        m.pose = ee_to_pose(np.array([*it.pos, it.yaw]))
        m.scale.x, m.scale.y, m.scale.z = (max(float(v), 1e-3) for v in it.size)
        m.color.r, m.color.g, m.color.b, m.color.a = (float(v) for v in it.color)
        m.frame_locked = True
        out.markers.append(m)
    return out
