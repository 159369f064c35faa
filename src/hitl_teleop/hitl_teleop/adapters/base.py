"""Shared adapter pieces: the arbiter's command as plain data, target checks, outgoing message data.

Each adapter's ``step(command)`` returns an ``AdapterOutput``: the exact messages to publish (as
dataclasses: topic, type and every field that gets filled) or none plus the reason it holds. The ROS
node only converts these to message objects, so everything that matters is tested without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hitl_core.control_source import ControlSource
from scipy.spatial.transform import Rotation

from hitl_teleop.adapters.kinematics import pose_to_matrix


@dataclass
class ArmCommandData:
    """hitl_msgs/ArmCommand as plain data (positions in metres, quaternions x y z w)."""

    stamp: float
    frame_id: str
    hold: bool
    positions: list[np.ndarray]
    quaternions: list[np.ndarray]
    gripper: list[float]
    source: int = ControlSource.POLICY

    @classmethod
    def from_msg(cls, msg) -> ArmCommandData:
        return cls(
            stamp=msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
            frame_id=msg.header.frame_id,
            hold=bool(msg.hold),
            source=int(msg.source),
            positions=[np.array([p.position.x, p.position.y, p.position.z]) for p in msg.targets],
            quaternions=[
                np.array([p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w])
                for p in msg.targets
            ],
            gripper=[float(g) for g in msg.gripper],
        )


@dataclass(frozen=True)
class PoseStampedOut:
    """geometry_msgs/PoseStamped."""

    topic: str
    frame_id: str
    position: tuple[float, float, float]
    quaternion: tuple[float, float, float, float]  # x y z w


@dataclass(frozen=True)
class JointGroupCommandOut:
    """interbotix_xs_msgs/JointGroupCommand (string name, float32[] cmd)."""

    topic: str
    name: str
    cmd: tuple[float, ...]


@dataclass(frozen=True)
class JointSingleCommandOut:
    """interbotix_xs_msgs/JointSingleCommand (string name, float32 cmd)."""

    topic: str
    name: str
    cmd: float


@dataclass(frozen=True)
class JointTrajectoryOut:
    """trajectory_msgs/JointTrajectory with one point (header.stamp 0 = start now)."""

    topic: str
    joint_names: tuple[str, ...]
    positions: tuple[float, ...]
    time_from_start: float


@dataclass(frozen=True)
class GripperActionOut:
    """A franka_gripper action goal: ``kind`` "move" (width, speed) or "grasp" (+ force, epsilons)."""

    action: str
    kind: str
    width: float
    speed: float
    force: float = 0.0
    epsilon_inner: float = 0.0
    epsilon_outer: float = 0.0


@dataclass(frozen=True)
class Float64Out:
    """std_msgs/Float64."""

    topic: str
    data: float


Outgoing = (
    PoseStampedOut
    | JointGroupCommandOut
    | JointSingleCommandOut
    | JointTrajectoryOut
    | GripperActionOut
    | Float64Out
)


@dataclass
class AdapterOutput:
    messages: list = field(default_factory=list)
    held: bool = False
    reason: str = ""


def check_command(cmd: ArmCommandData, n_arms: int, base_frame: str) -> str:
    """Empty string if the command's targets are usable, else why not (one line)."""
    if cmd.frame_id and cmd.frame_id != base_frame:
        return f"targets are in frame {cmd.frame_id!r}, this arm takes only {base_frame!r}"
    if len(cmd.positions) != n_arms:
        return f"expected {n_arms} target(s), got {len(cmd.positions)}"
    if cmd.gripper and len(cmd.gripper) != n_arms:
        return f"expected {n_arms} gripper value(s), got {len(cmd.gripper)}"
    for i, (p, q) in enumerate(zip(cmd.positions, cmd.quaternions)):
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
            return f"target {i} is not finite"
        if np.linalg.norm(q) < 1e-6:
            return f"target {i} has a zero quaternion"
    if cmd.gripper and not np.all(np.isfinite(cmd.gripper)):
        return "gripper command is not finite"
    return ""


def in_box(p: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float = 1e-6) -> bool:
    return bool(np.all(p >= lo - margin) and np.all(p <= hi + margin))


def target_matrix(cmd: ArmCommandData, i: int) -> np.ndarray:
    return pose_to_matrix(cmd.positions[i], cmd.quaternions[i])


def angle_between(q1: np.ndarray, q2: np.ndarray) -> float:
    return float((Rotation.from_quat(q1).inv() * Rotation.from_quat(q2)).magnitude())


class GripperLatch:
    """Binary gripper state with hysteresis; ``update`` returns the new state only when it changes."""

    def __init__(self, close_above: float = 0.6, open_below: float = 0.4) -> None:
        self.close_above, self.open_below = close_above, open_below
        self.closed: bool | None = None

    def update(self, g: float) -> bool | None:
        if g >= self.close_above and self.closed is not True:
            self.closed = True
            return True
        if g <= self.open_below and self.closed is not False:
            self.closed = False
            return False
        return None
