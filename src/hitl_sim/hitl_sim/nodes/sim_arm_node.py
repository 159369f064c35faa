"""sim_arm_node: the simulated arm driver (one robot), the stand-in for a real arm driver in sim:=true.

Every control tick it steps the simulator toward the latest ``arm_command`` (hold, or no command
yet in this episode: keep the current pose) and publishes ``observation``, ``sim/state``,
``ee_pose`` and ``scene_markers``. When an episode ends (success, failure, timeout) it publishes
END, resets and publishes START, until ``episodes`` episodes are done (0 = forever). After the
last one it stops stepping, keeps publishing the final observation at the control rate, and
republishes the last END event once a second with note "finished" (the done flag); a
``start_episode`` call starts again. With ``exit_when_done`` (the deploy graph) it instead exits 0
one second after the last END (subscribers get it first), which ends the graph (runner, launch).
"""

from __future__ import annotations

import time

import numpy as np
from hitl_core.recorder_report import REPORT_TOPIC, RecorderReport, parse_report
from hitl_core.ros.node_main import RosImports, run_node

import hitl_sim

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from hitl_msgs.msg import ArmCommand, EpisodeEvent, Observation
    from hitl_msgs.srv import ResetEpisode, StartEpisode
    from hitl_sim import ros_conversions as rc

USAGE = """usage: sim_arm_node [--help] [--ros-args -p name:=value ...]

Simulated arm driver: steps hitl_sim toward arm_command, publishes observations and episode events.

parameters:
  arm               (string, 'franka')  widowx | franka | yumi | profile YAML path
  task              (string, 'lift')    lift | drawer | cup_stack | push3 | nav | threading | cube_stack
  variant           (string, 'train')   task variant (train | test | lift: mixed)
  seed              (int, 0)            seed of the first episode (then the robot's generator continues)
  rate_hz           (double, 0.0)       control rate; 0 = the arm profile's rate
  max_episode_steps (int, 0)            0 = the task's default
  episodes          (int, 0)            episodes to run; 0 = forever
  auto_start        (bool, true)        start the first episode at once (else wait for start_episode)
  wait_for_publishers (string[], [])    auto_start waits until each of these topics (relative names, e.g.
                                        action_chunk, uncertainty) has a publisher: no episode times out
                                        while the policy is still loading, under ros2 launch or hitl_run
  exit_when_done    (bool, false)       after `episodes` episodes: exit 0 one second after the last END
                                        (ends the deploy graph) instead of idling
  wait_for_recorder (bool, false)       auto_start also waits until the node named `recorder` (this
                                        namespace) subscribes to observation and episode_event, then
                                        0.5 s more (DDS matches both ways): episode 1 is recorded whole.
                                        The recorder's own report (recorder/matched: its readers of both
                                        have matched a publisher, counted after this node started)
                                        counts too: the graph can lose a node's names for good on a
                                        loaded machine (hitl_core/recorder_report.py)
  robot_id          (string, '')        robot id in messages; '' = the namespace (e.g. robot_0) or 'robot'
  backend           (string, 'auto')    mujoco | kinematic | auto (MuJoCo where the task has a model)
  render            (bool, false)       publish camera/image_raw (sensor_msgs/Image, rgb8) from MuJoCo's
                                        offscreen camera (OSMesa or EGL) at render_rate_hz
  render_rate_hz    (double, 2.0)       camera rate (each frame is rendered on the control thread)
  render_size       (int[], [320, 240]) camera width, height
topics: pub observation, sim/state, ee_pose, episode_event, scene_markers, camera/image_raw (render);
        sub arm_command (NaN/inf or a wrong number of targets: rejected with a warning, the episode goes on)
services: start_episode, reset_episode
"""


class SimArmNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_arm_node")
        p = {
            k: self.declare_parameter(k, v).value
            for k, v in (
                ("arm", "franka"),
                ("task", "lift"),
                ("variant", "train"),
                ("seed", 0),
                ("rate_hz", 0.0),
                ("max_episode_steps", 0),
                ("episodes", 0),
                ("auto_start", True),
                ("robot_id", ""),
                ("wait_for_publishers", [""]),
                ("wait_for_recorder", False),
                ("backend", "auto"),
                ("render", False),
                ("render_rate_hz", 2.0),
                ("render_size", [320, 240]),
                ("exit_when_done", False),
            )
        }
        self.backend = hitl_sim.resolve_backend(str(p["task"]), str(p["backend"]))
        self.wait_for_recorder = bool(p["wait_for_recorder"])
        self.exit_when_done = bool(p["exit_when_done"])
        self.exit_code: int | None = None  # set: the shared runtime ends the process with it
        self.finished_tick = 0
        self.recorder_seen_tick: int | None = None
        self.started_wall = time.time()  # recorder reports counted before this count old writers
        self.recorder_report: RecorderReport | None = None
        self.bad_reports = 0
        self.waiting_for = [t for t in p["wait_for_publishers"] if t]
        self.arm_name, self.task, self.variant = str(p["arm"]), str(p["task"]), str(p["variant"])
        self.max_episode_steps, self.episodes = int(p["max_episode_steps"]), int(p["episodes"])
        ns = self.get_namespace().strip("/")
        self.robot_id = str(p["robot_id"]) or (ns.split("/")[-1] if ns else "robot")
        self.env = self._make_env(self.variant, int(p["seed"]))
        self.frame = self.env.arm.base_frame
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_obs = self.create_publisher(Observation, "observation", qos)
        self.pub_state = self.create_publisher(Observation, "sim/state", qos)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", qos)
        self.pub_event = self.create_publisher(EpisodeEvent, "episode_event", qos)
        self.pub_markers = self.create_publisher(MarkerArray, "scene_markers", qos)
        self.create_subscription(ArmCommand, "arm_command", self._on_command, qos)
        if self.wait_for_recorder:
            latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.create_subscription(String, REPORT_TOPIC, self._on_recorder_report, latched)
        self.create_service(StartEpisode, "start_episode", self._srv_start)
        self.create_service(ResetEpisode, "reset_episode", self._srv_reset)
        self.command: np.ndarray | None = None
        self.rejected: dict[str, float] = {}  # reason -> when last logged
        self.rejected_commands = 0
        self.episode = 0
        self.completed = 0
        self.running = False
        self.finished = False
        self.last_end = None
        self.obs = self.env.observe()
        rate = float(p["rate_hz"]) or self.env.arm.control_rate_hz
        if rate <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate}")
        self.ticks_per_s = max(1, round(rate))
        self.tick = 0
        self.pending_start: int | None = int(p["seed"]) if bool(p["auto_start"]) else None
        self.create_timer(1.0 / rate, self._on_tick)
        self.pub_image = None
        if bool(p["render"]):
            self._setup_camera(float(p["render_rate_hz"]), [int(v) for v in p["render_size"]])
        self.get_logger().info(
            f"sim arm {self.arm_name} task {self.task}/{self.variant} on {self.backend} at {rate:g} Hz "
            f"(robot_id {self.robot_id}, episodes {self.episodes or 'forever'})"
        )

    def _setup_camera(self, rate_hz: float, size: list[int]) -> None:
        from sensor_msgs.msg import Image

        if rate_hz <= 0 or len(size) != 2 or min(size) < 16:
            raise ValueError(f"render needs render_rate_hz > 0 and render_size [w, h] >= 16; got {rate_hz}, {size}")
        self.render_size = (size[0], size[1])
        if self.env.render(0, *self.render_size) is None:
            raise ValueError(f"render:=true but the {self.backend} task {self.task!r} cannot render "
                             "(kinematic tasks have no camera; MuJoCo needs OSMesa or EGL, see scripts/setup.sh)")
        self.pub_image = self.create_publisher(Image, "camera/image_raw", 2)
        self.create_timer(1.0 / rate_hz, self._publish_image)

    def _publish_image(self) -> None:
        from sensor_msgs.msg import Image

        frame = self.env.render(0, *self.render_size)
        if frame is None:
            return
        msg = Image()
        msg.header.stamp, msg.header.frame_id = self.get_clock().now().to_msg(), "sim_camera"
        msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
        msg.encoding, msg.is_bigendian, msg.step = "rgb8", 0, int(frame.shape[1]) * 3
        msg.data = np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
        self.pub_image.publish(msg)

    def _make_env(self, variant: str, seed: int):
        env = hitl_sim.make_env(
            self.task, self.arm_name, num_envs=1, variant=variant, seed=seed, backend=self.backend
        )
        if self.max_episode_steps > 0:
            env.max_steps = self.max_episode_steps
        return env

    # ---------------------------------------------------------------- episodes
    def _event(self, kind: int, note: str = "", success=False, failed=False) -> None:
        msg = rc.episode_event_msg(
            kind,
            robot_id=self.robot_id,
            episode=self.episode,
            task=self.task,
            variant=self.variant,
            success=success,
            failed=failed,
            steps=int(self.env.t[0]),
            note=note,
            stamp=self.get_clock().now().to_msg(),
        )
        if kind == EpisodeEvent.EVENT_END:
            self.last_end = msg
        self.pub_event.publish(msg)

    def _start(self, seed: int = -1, hard: bool = False) -> None:
        self.pending_start = None  # a start_episode call ends any wait of auto_start
        self.obs = self.env.reset(ids=[0], seeds=[seed] if seed >= 0 else None, hard=hard)
        self.episode += 1
        self.command = None
        self.running, self.finished = True, False
        self._event(EpisodeEvent.EVENT_START)
        self._publish()

    def _end(self, note: str = "") -> None:
        self.running = False
        self.completed += 1
        self._event(EpisodeEvent.EVENT_END, note, bool(self.env.success[0]), bool(self.env.failed[0]))

    # --------------------------------------------------------------- callbacks
    # screened here, not by the runtime before the callback: a rejected command holds the arm
    own_input_screening = ("arm_command",)

    def _on_command(self, msg) -> None:
        if not self.running:
            return
        errors = getattr(self, "input_errors", None)  # the shared runtime's counts (hitl_core/ros/runtime.py)
        topic = self.resolve_topic_name("arm_command")
        try:
            why = errors.screen(topic, msg) if errors is not None else None
            if why:
                raise ValueError(why)
            command = (
                None
                if msg.hold
                else rc.arm_command_to_action(msg, self.env.current_action()[0], self.env.n_arms)
            )
            if command is not None and not np.all(np.isfinite(command)):
                raise ValueError("non-finite target")
            self.command = command
        except ValueError as exc:
            self.command = None  # a command that cannot be executed: hold where the arm is
            self.rejected_commands += 1
            if errors is not None:  # counted per kind, logged throttled, summed up at shutdown
                errors.reject(topic, f"{exc}: holding, the episode goes on")
                return
            # each distinct reason is logged (at most once per 2 s): one throttle for all would hide
            # a wrong-shape command behind a NaN one
            now = time.monotonic()
            text = f"arm_command rejected ({exc}): holding; the episode goes on"
            if now - self.rejected.get(text, -1e9) >= 2.0:
                self.rejected[text] = now
                self.get_logger().warning(f"{text}; {self.rejected_commands} rejected so far")

    def _on_recorder_report(self, msg) -> None:
        try:
            self.recorder_report = parse_report(msg.data)
        except ValueError as exc:
            self.bad_reports += 1
            if self.bad_reports == 1:
                self.get_logger().warning(f"{REPORT_TOPIC}: {exc}; ignored")

    def _recorder_listens(self, topic: str) -> bool:
        """The recorder of this namespace subscribes to ``topic``: the graph names its reader, or its
        report says that reader has matched a publisher since this node started."""
        name, ns = self._resolve(topic), self.get_namespace()
        if any(i.node_name == "recorder" and i.node_namespace == ns
               for i in self.get_subscriptions_info_by_topic(name)):
            return True
        report = self.recorder_report
        if report is not None and report.hears(name, self.started_wall):
            self.get_logger().warning(
                f"the graph does not name the recorder's reader of {name} (its discovery information is late "
                "or lost); the recorder's own report says that reader has matched a publisher: starting", once=True)
            return True
        return False

    def _missing_publishers(self) -> list[str]:
        missing = [t for t in self.waiting_for if self.count_publishers(self._resolve(t)) == 0]
        if self.wait_for_recorder:
            unrecorded = [t for t in ("observation", "episode_event") if not self._recorder_listens(t)]
            if unrecorded:
                self.recorder_seen_tick = None
                missing.append(f"the recorder's subscriptions to {unrecorded}")
            else:
                if self.recorder_seen_tick is None:
                    self.recorder_seen_tick = self.tick
                if self.tick - self.recorder_seen_tick < self.ticks_per_s / 2:
                    missing.append("the recorder to match (0.5 s)")
        return missing

    def _resolve(self, topic: str) -> str:
        ns = self.get_namespace().rstrip("/")
        return topic if topic.startswith("/") else f"{ns}/{topic}"

    def _on_tick(self) -> None:
        self.tick += 1
        if self.pending_start is not None:
            missing = self._missing_publishers()
            if missing:
                self.get_logger().info(
                    f"waiting for {missing} before the first episode",
                    throttle_duration_sec=5.0,
                )
            else:
                self._start(self.pending_start)
                self.pending_start = None
        if self.running:
            action = self.command if self.command is not None else self.env.current_action()[0]
            self.obs, info = self.env.step(action[None])
            if info["done"][0]:
                outcome = (
                    "success" if info["success"][0] else "failed" if info["failed"][0] else "timeout"
                )
                self._end(outcome)
                if self.episodes <= 0 or self.completed < self.episodes:
                    self._start()
                    return
                self.finished = True
                self.finished_tick = self.tick
                if self.exit_when_done:
                    self.get_logger().info(f"all {self.episodes} episodes done: exiting in 1 s")
        elif self.finished and self.exit_when_done:
            if self.tick - self.finished_tick >= self.ticks_per_s:
                self.exit_code = 0
        elif self.finished and self.last_end is not None and self.tick % self.ticks_per_s == 0:
            self.last_end.note = "finished"
            self.last_end.header.stamp = self.get_clock().now().to_msg()
            self.pub_event.publish(self.last_end)
        self._publish()

    def _publish(self) -> None:
        stamp = self.get_clock().now().to_msg()
        env = self.env
        ee = env.current_action()[0].reshape(env.n_arms, -1)
        common = dict(
            robot_id=self.robot_id,
            task=self.task,
            episode=self.episode,
            step=int(env.t[0]),
            frame_id=self.frame,
            stamp=stamp,
        )
        self.pub_obs.publish(rc.observation_msg(env.obs_names, self.obs[0], ee, **common))
        self.pub_state.publish(rc.observation_msg(env.state_names, env.get_state()[0], ee, **common))
        pose = PoseStamped()
        pose.header.frame_id, pose.header.stamp = self.frame, stamp
        pose.pose = rc.ee_to_pose(ee[0])
        self.pub_pose.publish(pose)
        self.pub_markers.publish(rc.scene_markers(env.scene(0), ee, self.frame, stamp))

    def _srv_start(self, req, res):
        try:
            if req.variant and req.variant != self.variant:
                env, self.env = self.env, self._make_env(req.variant, 0)
                if hasattr(env, "close"):
                    env.close()
                self.variant = req.variant
            if self.running:
                self._end("interrupted by start_episode")
            self._start(int(req.seed))
        except ValueError as exc:
            res.success, res.message, res.episode = False, str(exc), self.episode
            return res
        res.success, res.message, res.episode = True, f"episode {self.episode} started", self.episode
        return res

    def _srv_reset(self, req, res):
        if self.running:
            self._end("reset (hard)" if req.hard else "reset")
        self._event(
            EpisodeEvent.EVENT_RESET, "hard" if req.hard else "soft", failed=bool(self.env.failed[0])
        )
        self._start(hard=bool(req.hard))
        res.success, res.message, res.episode = True, f"episode {self.episode} started", self.episode
        return res


def main(args: list[str] | None = None) -> int:
    return run_node(SimArmNode, args, USAGE, "sim_arm_node", ROS, errors=(ValueError,))


if __name__ == "__main__":
    raise SystemExit(main())
