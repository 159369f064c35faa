"""observation_bridge_node: the real arm's ``observation`` (thin layer over hitl_teleop.observation_bridge).

Joint states (FK on the adapters' chains; Franka: the measured pose) and perceived object poses
(PoseStamped, arm base frame) -> hitl_msgs/Observation at the control rate, in the simulator's order
and units, with episode/step counters. If any input is missing or stale it publishes nothing (the
arbiter's observation watchdog holds the arm) and says why in one line (log on change and
``observation_status``). Episodes: ``start_episode`` / ``reset_episode`` services and
``episode_event``, as sim_arm_node (see docs/arms.md, "Observations on a real arm").
"""

from __future__ import annotations

import sys
import time

from hitl_core.ros.node_main import RosImports, run_node

from hitl_teleop.observation_bridge import Episodes, ObservationBridge, config_from_params

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from geometry_msgs.msg import PoseStamped
    from hitl_sim.ros_conversions import episode_event_msg
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from hitl_msgs.msg import EpisodeEvent, Observation
    from hitl_msgs.srv import ResetEpisode, StartEpisode
    from hitl_teleop.ros_conversions import make_pose, pose_position, pose_quat, stamp_to_sec

    EVENT_KINDS = {"start": EpisodeEvent.EVENT_START, "end": EpisodeEvent.EVENT_END,
                   "reset": EpisodeEvent.EVENT_RESET}

USAGE = """usage: observation_bridge_node [--help] [--ros-args -p name:=value ...]

Real-arm observation: joint states + perceived object poses -> hitl_msgs/Observation (task layout).

parameters:
  arm                   (string, 'franka')  franka | widowx | yumi
  task                  (string, 'lift')    the task whose observation layout to publish
  simulator             (string, 'mujoco')  whose layout: mujoco (hitl_sim.mj.layout) | kinematic
  robot_id              (string, '')        '' = the namespace (e.g. robot_0) or 'robot'
  rate_hz               (double, 0.0)       0 = the arm profile's control rate
  variant               (string, 'real')    written into episode events
  max_episode_steps     (int, 0)            > 0: END (timeout) after this many observations
  auto_start            (bool, true)        episode 1 starts with the first complete observation
  joint_states_topic    (string, '')        '' = franka /joint_states, widowx /wx250s/joint_states, yumi /joint_states
  ee_pose_topic         (string, 'default') measured TCP pose (franka: /franka_robot_state_broadcaster/current_pose);
                                            '' = forward kinematics (widowx, yumi)
  finger_joints         (string[])          one entry per end effector, joint names separated by spaces
  finger_scale          (double)            kinematic: opening width = finger_scale * sum(|finger joints|)
  finger_range          (double[2])         mujoco: |finger joint| closed, open (observation_bridge_mj.py)
  ee_offset_xyz, ee_offset_rpy (double[3])  TCP frame -> simulator end-effector frame (URDF rpy)
  base_frame, urdf, mjcf (string, '')       '' = the arm profile's base frame / the bundled model
                                            (urdf: yumi's URDF; mjcf: widowx's MJCF, default the simulator's)
  joint_state_max_age_s (0.2), ee_pose_max_age_s (0.2), object_max_age_s (0.5)
  objects.<name>.{topic, type, offset_xyz, offset_rpy, yaw_period, max_age_s}   one per perceived object
  constants.<field>     (double[])          task observation entries with fixed values
  fields.<field>        (string)            '<object>.<attr>' (attr: pos xy z yaw is radius height feature)
  (hitl_bringup: arm YAML and task YAML, nodes.observation_bridge; see docs/arms.md)
topics: sub joint states, ee pose (franka), object poses; pub observation, ee_pose, episode_event,
        observation_status (std_msgs/String)
services: start_episode, reset_episode
"""

NODE_PARAMS = {
    "arm": "franka",
    "task": "lift",
    "robot_id": "",
    "rate_hz": 0.0,
    "variant": "real",
    "max_episode_steps": 0,
    "auto_start": True,
}
RCLPY_PARAMS = ("use_sim_time", "start_type_description_service")  # declared by every rclpy node


class ObservationBridgeNode(Node):
    def __init__(self) -> None:
        # nested settings (objects.<name>.topic, ...) arrive as parameter overrides with dotted names
        super().__init__("observation_bridge", automatically_declare_parameters_from_overrides=True)
        p = {k: self._param(k, v) for k, v in NODE_PARAMS.items()}
        settings = {
            name: param.value
            for name, param in self.get_parameters_by_prefix("").items()
            if name not in NODE_PARAMS and name not in RCLPY_PARAMS and not name.startswith("qos_overrides.")
        }
        self.bridge = ObservationBridge(config_from_params({"arm": p["arm"], "task": p["task"], **settings}))
        b = self.bridge
        ns = self.get_namespace().strip("/")
        self.robot_id = str(p["robot_id"]) or (ns.split("/")[-1] if ns else "robot")
        self.task, self.variant = str(p["task"]), str(p["variant"])
        self.auto_start = bool(p["auto_start"])
        self.episodes = Episodes(int(p["max_episode_steps"]))
        rate = float(p["rate_hz"]) or b.profile.control_rate_hz
        if rate <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate}")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_obs = self.create_publisher(Observation, "observation", qos)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", qos)
        self.pub_event = self.create_publisher(EpisodeEvent, "episode_event", qos)
        self.pub_status = self.create_publisher(String, "observation_status", qos)
        # best effort receives from reliable and best-effort publishers (cameras, mocap) alike
        sensor = qos_profile_sensor_data
        self.create_subscription(JointState, b.joint_states_topic, self.on_joints, sensor)
        if b.ee_pose_topic:
            self.create_subscription(PoseStamped, b.ee_pose_topic, self.on_ee_pose, sensor)
        for name, obj in b.cfg.objects.items():
            self.create_subscription(
                PoseStamped, obj.topic, lambda msg, name=name: self.on_object(name, msg), sensor
            )
        # screened by the bridge itself (JointState may carry NaN efforts legitimately): not by the runtime
        self.own_input_screening = tuple(sub.topic_name for sub in self.subscriptions)
        self.create_service(StartEpisode, "start_episode", self.srv_start)
        self.create_service(ResetEpisode, "reset_episode", self.srv_reset)
        self.status = ""
        self.status_sent = 0.0
        self.logged: dict[str, float] = {}
        self.create_timer(1.0 / rate, self.on_tick)
        inputs = [b.joint_states_topic, b.ee_pose_topic, *(o.topic for o in b.cfg.objects.values())]
        self.get_logger().info(
            f"observation bridge {p['arm']} / {self.task} at {rate:g} Hz (robot_id {self.robot_id}): "
            f"{len(b.names)} entries from {[t for t in inputs if t]}"
        )

    def _param(self, name: str, default):
        if not self.has_parameter(name):
            self.declare_parameter(name, default)
        return self.get_parameter(name).value

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # --------------------------------------------------------------- inputs
    def _rejected(self, reason: str, topic: str) -> None:
        """Log a rejected input: at once, then at most every 5 s per reason (with the running count);
        counted by the shared runtime too (hitl_core/ros/runtime.py: summed up at shutdown)."""
        if not reason:
            return
        errors = getattr(self, "input_errors", None)
        if errors is not None:
            errors.reject(self.resolve_topic_name(topic), reason)
            return
        t = time.monotonic()
        if t - self.logged.get(reason, -1e9) >= 5.0:
            self.logged[reason] = t
            total = sum(self.bridge.rejected.values())
            self.get_logger().warning(f"input rejected: {reason} ({total} rejected so far)")

    def on_joints(self, msg: JointState) -> None:
        self._rejected(
            self.bridge.on_joint_state(list(msg.name), list(msg.position), stamp_to_sec(msg.header.stamp),
                                    self.now()), self.bridge.joint_states_topic
        )

    def _pose_args(self, msg: PoseStamped) -> tuple:
        return (pose_position(msg.pose), pose_quat(msg.pose), msg.header.frame_id,
                stamp_to_sec(msg.header.stamp), self.now())

    def on_ee_pose(self, msg: PoseStamped) -> None:
        self._rejected(self.bridge.on_ee_pose(*self._pose_args(msg)), self.bridge.ee_pose_topic)

    def on_object(self, name: str, msg: PoseStamped) -> None:
        self._rejected(self.bridge.on_object_pose(name, *self._pose_args(msg)), self.bridge.cfg.objects[name].topic)

    # --------------------------------------------------------------- output
    def report(self, status: str) -> None:
        t = time.monotonic()
        if status != self.status:
            if status == "ok":
                self.get_logger().info("publishing observations")
            else:
                self.get_logger().warning(status)
        if status != self.status or t - self.status_sent >= 1.0:
            self.pub_status.publish(String(data=status))
            self.status, self.status_sent = status, t

    def emit(self, events) -> None:
        for ev in events:
            self.pub_event.publish(episode_event_msg(
                EVENT_KINDS[ev.kind], robot_id=self.robot_id, episode=ev.episode, task=self.task,
                variant=self.variant, steps=ev.steps, note=ev.note, stamp=self.get_clock().now().to_msg()))

    def on_tick(self) -> None:
        stamp = self.get_clock().now()
        out = self.bridge.build(stamp.nanoseconds * 1e-9)
        if not out.ok:
            self.report(out.reason)
            return
        self.report("ok")
        if self.auto_start and self.episodes.episode == 0:
            self.emit(self.episodes.start())
        msg = Observation()
        msg.header.stamp, msg.header.frame_id = stamp.to_msg(), self.bridge.base_frame
        msg.robot_id, msg.task = self.robot_id, self.task
        msg.episode, msg.step = self.episodes.episode, self.episodes.step
        msg.names = list(self.bridge.names)
        msg.data = [float(v) for v in out.data]
        msg.ee_poses = [make_pose(p, q) for p, q in zip(out.tcp_positions, out.tcp_quaternions)]
        msg.gripper = [float(g) for g in out.ee[:, 4]]
        self.pub_obs.publish(msg)
        pose = PoseStamped()
        pose.header = msg.header
        pose.pose = msg.ee_poses[0]
        self.pub_pose.publish(pose)
        self.emit(self.episodes.published())

    # --------------------------------------------------------------- services
    def srv_start(self, req, res):
        if req.variant:
            self.variant = req.variant
        self.emit(self.episodes.start())
        res.success, res.episode = True, self.episodes.episode
        res.message = f"episode {self.episodes.episode} started (reset the scene first: no sim here)"
        return res

    def srv_reset(self, req, res):
        self.emit(self.episodes.reset(bool(req.hard)))
        res.success, res.episode = True, self.episodes.episode
        res.message = f"episode {self.episodes.episode} started"
        return res


def main(args: list[str] | None = None) -> int:
    return run_node(ObservationBridgeNode, args, USAGE, "observation_bridge_node", ROS)


if __name__ == "__main__":
    sys.exit(main())
