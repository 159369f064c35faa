"""Plain adapter outputs -> ROS message objects.

geometry_msgs, trajectory_msgs and std_msgs are imported on use; interbotix_xs_msgs and franka_msgs
exist only on the robot computer, so asking for them elsewhere raises one clear ImportError line.
"""

from __future__ import annotations

from typing import Any

from hitl_teleop.adapters.base import (
    Float64Out,
    GripperActionOut,
    JointGroupCommandOut,
    JointSingleCommandOut,
    JointTrajectoryOut,
    PoseStampedOut,
)

ROBOT_PACKAGES = {
    "interbotix_xs_msgs": "the Interbotix xs_sdk workspace (interbotix_ros_core / interbotix_xs_msgs)",
    "franka_msgs": "franka_ros2 (franka_msgs)",
}


class MissingRobotPackageError(ImportError):
    pass


def require(module: str) -> Any:
    """Import a robot-side message package or fail with one line saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        pkg = module.split(".")[0]
        hint = ROBOT_PACKAGES.get(pkg, pkg)
        raise MissingRobotPackageError(f"{module} is not installed: source {hint} on the robot") from e


def _stamp(msg: Any, now: tuple[int, int] | None) -> None:
    if now is not None:
        msg.header.stamp.sec, msg.header.stamp.nanosec = now


def pose_stamped(o: PoseStampedOut, now: tuple[int, int] | None = None) -> Any:
    from geometry_msgs.msg import PoseStamped

    m = PoseStamped()
    _stamp(m, now)
    m.header.frame_id = o.frame_id
    m.pose.position.x, m.pose.position.y, m.pose.position.z = o.position
    q = m.pose.orientation
    q.x, q.y, q.z, q.w = o.quaternion
    return m


def joint_trajectory(o: JointTrajectoryOut) -> Any:
    """header.stamp stays 0: the controller starts the trajectory on receipt."""
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    m = JointTrajectory()
    m.joint_names = list(o.joint_names)
    pt = JointTrajectoryPoint()
    pt.positions = list(o.positions)
    sec = int(o.time_from_start)
    pt.time_from_start = Duration(sec=sec, nanosec=round((o.time_from_start - sec) * 1e9))
    m.points = [pt]
    return m


def joint_group_command(o: JointGroupCommandOut) -> Any:
    JointGroupCommand = require("interbotix_xs_msgs.msg").JointGroupCommand
    return JointGroupCommand(name=o.name, cmd=list(o.cmd))


def joint_single_command(o: JointSingleCommandOut) -> Any:
    JointSingleCommand = require("interbotix_xs_msgs.msg").JointSingleCommand
    return JointSingleCommand(name=o.name, cmd=float(o.cmd))


def float64(o: Float64Out) -> Any:
    from std_msgs.msg import Float64

    return Float64(data=float(o.data))


def gripper_goal(o: GripperActionOut) -> tuple[Any, Any]:
    """(action type, goal) for franka_gripper's move / grasp."""
    actions = require("franka_msgs.action")
    if o.kind == "move":
        return actions.Move, actions.Move.Goal(width=o.width, speed=o.speed)
    if o.kind == "grasp":
        goal = actions.Grasp.Goal(width=o.width, speed=o.speed, force=o.force)
        goal.epsilon.inner, goal.epsilon.outer = o.epsilon_inner, o.epsilon_outer
        return actions.Grasp, goal
    raise ValueError(f"unknown gripper action kind {o.kind!r}")


def message_type(o: Any) -> Any:
    """The ROS message class a topic output needs (for creating publishers)."""
    if isinstance(o, PoseStampedOut):
        from geometry_msgs.msg import PoseStamped

        return PoseStamped
    if isinstance(o, JointTrajectoryOut):
        from trajectory_msgs.msg import JointTrajectory

        return JointTrajectory
    if isinstance(o, JointGroupCommandOut):
        return require("interbotix_xs_msgs.msg").JointGroupCommand
    if isinstance(o, JointSingleCommandOut):
        return require("interbotix_xs_msgs.msg").JointSingleCommand
    if isinstance(o, Float64Out):
        from std_msgs.msg import Float64

        return Float64
    raise TypeError(f"{type(o).__name__} is not a topic output")


def to_ros(o: Any, now: tuple[int, int] | None = None) -> Any:
    if isinstance(o, PoseStampedOut):
        return pose_stamped(o, now)
    if isinstance(o, JointTrajectoryOut):
        return joint_trajectory(o)
    if isinstance(o, JointGroupCommandOut):
        return joint_group_command(o)
    if isinstance(o, JointSingleCommandOut):
        return joint_single_command(o)
    if isinstance(o, Float64Out):
        return float64(o)
    raise TypeError(f"{type(o).__name__} has no topic message (gripper actions go through gripper_goal)")
