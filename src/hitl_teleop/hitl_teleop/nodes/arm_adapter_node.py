"""arm_adapter_node: the arbiter's ``arm_command`` -> a real arm's own interface (thin layer over adapters/).

arm:=franka  PoseStamped on /cartesian_impedance_example_controller/equilibrium_pose; franka_gripper
             move / grasp actions; current pose from franka_robot_state_broadcaster.
arm:=widowx  interbotix_xs_msgs/JointGroupCommand on /<robot>/commands/joint_group (+ JointSingleCommand
             for the gripper); joints from /<robot>/joint_states.
arm:=yumi    trajectory_msgs/JointTrajectory to each arm's joint_trajectory_controller; joints from
             /joint_states.
Publishing happens only in answer to a live (non-hold) arm_command, so when the arbiter holds or
dies the arm stops receiving targets. Why it holds goes to the log (on change) and ``adapter_status``.
With ``dry_run:=true`` nothing is sent to the arm: each output is written as one JSON line on
``adapter_status/dry_run`` (check a setup before the first deployment, or without the robot packages).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, fields

import numpy as np
from hitl_core.ros.node_main import RosImports, run_node

from hitl_teleop.adapters import messages as am
from hitl_teleop.adapters.base import ArmCommandData, GripperActionOut
from hitl_teleop.adapters.factory import build_adapter

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from hitl_msgs.msg import ArmCommand

USAGE = """usage: arm_adapter_node [--help] [--ros-args -p name:=value ...]

Real-arm adapter: absolute end-effector targets + gripper from the arbiter -> the arm's interface.

parameters:
  arm                 (string, 'franka')   franka | widowx | yumi
  dry_run             (bool, false)        publish JSON lines on adapter_status/dry_run instead of commanding
  joint_states_topic  (string, '')         widowx: /<robot_name>/joint_states, yumi: /joint_states
  current_pose_topic  (string, '/franka_robot_state_broadcaster/current_pose')   franka only
  adapter, robot_id    accepted for hitl_bringup's arm YAML (adapter must equal arm)
  plus every field of the arm's adapter config, e.g.
    franka: pose_topic, gripper_namespace (alias gripper_action_ns), base_frame, max_step,
            max_rotation_step, grasp_force, kinematics (mjcf|none), mjcf, ...
    widowx: robot_name, group_name, joint_group_topic, gripper_mode (pwm|position), gripper_effort,
            max_joint_step, mjcf, ... (base_frame, if given, must be <robot_name>/base_link)
    yumi:   base_frame, controllers, left_controller / right_controller (full topics), gripper_topics,
            time_from_start, max_joint_step, urdf, ...
  (defaults: the arm profile in hitl_sim/config/arms/<arm>.yaml and adapters/<arm>.py; see docs/arms.md)
topics: sub arm_command (hitl_msgs/ArmCommand) + the arm's state; pub the arm's command topics,
        adapter_status (std_msgs/String)
"""


class ArmAdapterNode(Node):
    own_input_screening = ("arm_command",)  # screened in on_command: a rejected command holds the arm

    def __init__(self) -> None:
        super().__init__("arm_adapter")
        p = self.declare_parameter
        self.arm = p("arm", "franka").value
        adapter = p("adapter", "").value  # hitl_bringup's arm YAML names it too: must agree
        if adapter and adapter != self.arm:
            raise ValueError(f"parameter adapter={adapter!r} disagrees with arm={self.arm!r}")
        p("robot_id", "")
        self.dry_run = bool(p("dry_run", False).value)
        defaults = build_adapter(self.arm).cfg
        overrides = {}
        for f in fields(defaults):
            default = getattr(defaults, f.name)
            seq = isinstance(default, tuple)
            value = p(f.name, list(default) if seq else default).value
            value = tuple(value) if seq else value  # double arrays come back as array.array
            if value != default:
                overrides[f.name] = value
        alias = p("gripper_action_ns", "").value  # hitl_bringup's name for franka's gripper_namespace
        if alias and self.arm == "franka":
            overrides.setdefault("gripper_namespace", alias)
        if self.arm == "widowx":
            frame = p("base_frame", "").value
            robot = overrides.get("robot_name", defaults.robot_name)
            if frame and frame != f"{robot}/base_link":
                raise ValueError(
                    f"widowx base_frame {frame!r} must be '{robot}/base_link' (set robot_name)"
                )
        self.adapter = build_adapter(self.arm, overrides)
        self.status_pub = self.create_publisher(String, "adapter_status", 10)
        self.dry_pub = (
            self.create_publisher(String, "adapter_status/dry_run", 10) if self.dry_run else None
        )
        self.pubs: dict[str, object] = {}
        self.action_clients: dict[str, object] = {}
        self.last_reason: str | None = None
        js_topic = p("joint_states_topic", "").value
        if self.arm == "franka":
            topic = p("current_pose_topic", "/franka_robot_state_broadcaster/current_pose").value
            self.create_subscription(PoseStamped, topic, self.on_pose, 10)
        elif self.arm == "widowx":
            self.create_subscription(
                JointState, js_topic or self.adapter.joint_state_topic, self.on_joints, 10
            )
        else:
            self.create_subscription(JointState, js_topic or "/joint_states", self.on_joints, 10)
        if not self.dry_run:
            self.check_robot_packages()
        self.create_subscription(ArmCommand, "arm_command", self.on_command, 10)
        self.get_logger().info(f"arm adapter for {self.arm}{' (dry run)' if self.dry_run else ''}")

    def check_robot_packages(self) -> None:
        """Fail at start (one line) rather than at the first command when a robot package is missing."""
        if self.arm == "widowx":
            am.require("interbotix_xs_msgs.msg")
        if self.arm == "franka":
            try:
                am.require("franka_msgs.action")
            except am.MissingRobotPackageError as exc:
                self.get_logger().error(f"{exc}; gripper commands are disabled")
                self.adapter.cfg.gripper_namespace = ""

    def on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        self.adapter.set_current_pose(np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w]))

    def on_joints(self, msg: JointState) -> None:
        self.adapter.set_joint_state(list(msg.name), list(msg.position))

    def on_command(self, msg: ArmCommand) -> None:
        errors = getattr(self, "input_errors", None)  # the shared runtime's counts (hitl_core/ros/runtime.py)
        topic = self.resolve_topic_name("arm_command")
        try:
            why = errors.screen(topic, msg) if errors is not None else None
            if why:
                raise ValueError(why)
            out = self.adapter.step(ArmCommandData.from_msg(msg))
        except ValueError as exc:  # holds: nothing sent, the status says why
            out = None
            reason = f"bad command: {exc}"
            if errors is not None:
                errors.reject(topic, f"{exc}: holding")
        else:
            reason = out.reason if out.held else ""
        if reason != self.last_reason:
            if reason:
                self.get_logger().warn(f"holding: {reason}")
            elif self.last_reason:
                self.get_logger().info("moving again")
            self.last_reason = reason
            self.status_pub.publish(String(data=reason or "ok"))
        if out is None:
            return
        now = self.get_clock().now().to_msg()
        for o in out.messages:
            self.send(o, (now.sec, now.nanosec))

    def send(self, o, now: tuple[int, int]) -> None:
        if self.dry_pub is not None:
            self.dry_pub.publish(String(data=json.dumps({"type": type(o).__name__, **asdict(o)})))
            return
        if isinstance(o, GripperActionOut):
            self.send_gripper(o)
            return
        topic = o.topic
        if topic not in self.pubs:
            self.pubs[topic] = self.create_publisher(am.message_type(o), topic, 10)
        self.pubs[topic].publish(am.to_ros(o, now))

    def send_gripper(self, o: GripperActionOut) -> None:
        if not self.adapter.cfg.gripper_namespace:
            return
        from rclpy.action import ActionClient

        action_type, goal = am.gripper_goal(o)
        if o.action not in self.action_clients:
            self.action_clients[o.action] = ActionClient(self, action_type, o.action)
        client = self.action_clients[o.action]
        if not client.server_is_ready():
            self.get_logger().error(
                f"gripper action server {o.action} is not available", throttle_duration_sec=5.0
            )
            return
        client.send_goal_async(goal)


def main(args: list[str] | None = None) -> int:
    return run_node(ArmAdapterNode, args, USAGE, "arm_adapter_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
