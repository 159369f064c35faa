"""arbiter_node: the only node that commands the arm (thin ROS adapter over hitl_teleop.arbiter).

Ticks at the control rate (publishes ``arm_command`` and ``control_state`` every tick, and
``help_request`` while help is requested) and runs a faster watchdog timer that publishes a hold
as soon as the policy, the observations or the device go stale.

Event-driven take-over: a teleop message that hands control to the human (take-over pressed, or an
engaged answer to a help request) is applied at once, not at the next tick; the tick timer restarts
from there, so the control rate is unchanged. Every input passes hitl_teleop.input_guard first
(bad stamps, out of order, malformed: rejected, counted, logged). Another publisher of this robot's
``arm_command`` or ``control_state`` (a second graph on the same domain and namespace) makes the
arbiter hold and say so until it is gone.
"""

from __future__ import annotations

import sys

from hitl_core.ros.node_main import RosImports, run_node
from hitl_core.threshold import resolve_threshold
from hitl_sim.arms import load_arm_profile

from hitl_teleop.arbiter import Arbiter, ArbiterConfig, LogLevel, Source
from hitl_teleop.input_guard import InputGuard

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node

    from hitl_msgs.msg import (
        ActionChunk,
        ArmCommand,
        ControlState,
        EpisodeEvent,
        HelpRequest,
        Observation,
        TeleopCommand,
        Uncertainty,
    )
    from hitl_msgs.srv import ResetEpisode, SetControlMode
    from hitl_teleop import ros_conversions as rc

USAGE = """usage: arbiter_node [--help] [--ros-args -p name:=value ...]

The only node that commands the arm: policy vs human vs hold, with watchdogs and safety limits.

parameters:
  arm                   (string, 'franka')  arm profile (workspace/speed limits, control rate)
  robot_id              (string, '')        robot id in ControlState/HelpRequest (default: the namespace)
  gating                (string, 'both')    robot | human | both
  threshold             (double, -1.0)      help threshold (0 is legal); < 0 = unset: threshold_file, else
                                            each Uncertainty message's threshold
  threshold_file        (string, '')        calibration file, read as the uncertainty node reads it
  release_ratio         (double, 0.8)       back to the policy below threshold * release_ratio ...
  release_ticks         (int, 3)            ... for this many consecutive uncertainty messages
  min_intervention_s    (double, 0.0)       minimum intervention time t_T (never less than one chunk)
  rearm_ratio           (double, 0.0)       accept an operator's hand-back at a high score: ask again only
                                            above rearm_ratio * that score (0: ask again at once)
  policy_timeout_s      (double, 0.15)      stale action_chunk -> hold (STALE_POLICY)
  observation_timeout_s (double, 0.3)       stale observation -> hold (STALE_OBSERVATION)
  device_timeout_s      (double, 0.15)      stale teleop while HUMAN -> hold (STALE_DEVICE); devices stream >= 20 Hz
  require_deadman       (bool, true)        HUMAN needs teleop.engaged, else hold (DEADMAN_RELEASED)
  rate_hz               (double, 0.0)       control rate; <= 0: the arm profile's
  watchdog_hz           (double, 50.0)      watchdog check rate
  frame_id              (string, '')        frame of arm_command (default: the profile's base frame)
  ee_offset_xyz, ee_offset_rpy (double[3], 0) real arms: simulator end-effector frame on the TCP,
                                            T_sim = T_tcp @ T(xyz, rpy), as the observation bridge's
  ee_layout             (string, 'kinematic') real arms: the bridge's observation layout (mujoco | kinematic):
                                            where the policy's yaw 0 points (set by the graph from the bridge)
  conflict_check_s      (double, 0.5)       how often to look for other publishers of arm_command/control_state
topics: sub observation, action_chunk, uncertainty, teleop, episode_event;
        pub arm_command, control_state, help_request
services: set_control_mode (server), reset_episode (client, hard=true on a reset request)
"""


class ArbiterNode(Node):
    # screened by accept() (hitl_teleop.input_guard), not by the runtime: a rejected input makes the arbiter hold
    own_input_screening = ("observation", "action_chunk", "uncertainty", "teleop", "episode_event")

    """arbiter_node's ROS side: inputs -> Arbiter, ticks and watchdog -> arm_command/control_state."""

    def __init__(self) -> None:
        super().__init__("arbiter")
        p = self.declare_parameter
        self.profile = load_arm_profile(p("arm", "franka").value)
        robot_id = p("robot_id", "").value or self.get_namespace().strip("/")
        threshold = resolve_threshold(float(p("threshold", -1.0).value), p("threshold_file", "").value,
                                      required=False)  # None: each Uncertainty message's threshold
        rate = float(p("rate_hz", 0.0).value) or self.profile.control_rate_hz
        cfg = ArbiterConfig(
            robot_id=robot_id,
            threshold=threshold,
            release_ratio=float(p("release_ratio", 0.8).value),
            release_ticks=int(p("release_ticks", 3).value),
            min_intervention_s=float(p("min_intervention_s", 0.0).value),
            rearm_ratio=float(p("rearm_ratio", 0.0).value),
            policy_timeout_s=float(p("policy_timeout_s", 0.15).value),
            observation_timeout_s=float(p("observation_timeout_s", 0.3).value),
            device_timeout_s=float(p("device_timeout_s", 0.15).value),
            gating=str(p("gating", "both").value),
            require_deadman=bool(p("require_deadman", True).value),
            rate_hz=rate,
            ee_offset_xyz=tuple(p("ee_offset_xyz", [0.0, 0.0, 0.0]).value),
            ee_offset_rpy=tuple(p("ee_offset_rpy", [0.0, 0.0, 0.0]).value),
            ee_layout=str(p("ee_layout", "kinematic").value),
        )
        watchdog_hz = float(p("watchdog_hz", 50.0).value)
        conflict_check_s = float(p("conflict_check_s", 0.5).value)
        self.frame_id = p("frame_id", "").value or self.profile.base_frame
        self.arbiter = Arbiter(cfg, self.profile)
        self.guard = InputGuard()
        self.period = 1.0 / rate
        self.last_tick = 0.0
        self.refused_at = -1.0
        self.help_requested = False  # in the last published state
        self.pub_cmd = self.create_publisher(ArmCommand, "arm_command", 10)
        self.pub_state = self.create_publisher(ControlState, "control_state", 10)
        self.pub_help = self.create_publisher(HelpRequest, "help_request", 10)
        self.create_subscription(Observation, "observation", self.on_observation, 10)
        self.create_subscription(ActionChunk, "action_chunk", self.on_chunk, 10)
        self.create_subscription(Uncertainty, "uncertainty", self.on_uncertainty, 10)
        self.create_subscription(TeleopCommand, "teleop", self.on_teleop, 10)
        self.create_subscription(EpisodeEvent, "episode_event", self.on_event, 10)
        self.create_service(SetControlMode, "set_control_mode", self.on_set_mode)
        self.reset_client = self.create_client(ResetEpisode, "reset_episode")
        self.tick_timer = self.create_timer(self.period, self.on_tick)
        self.create_timer(1.0 / watchdog_hz, self.on_watchdog)
        self.create_timer(conflict_check_s, self.check_conflict)
        self.get_logger().info(
            f"arbiter for {robot_id or '(no id)'} on {self.profile.name}: gating {cfg.gating}, "
            f"threshold {cfg.threshold if cfg.threshold is not None else 'from uncertainty'}, {rate:g} Hz, "
            f"watchdog {watchdog_hz:g} Hz"
            + ("" if self.arbiter.tool.is_identity else
               f", TCP offset xyz {list(cfg.ee_offset_xyz)} rpy {list(cfg.ee_offset_rpy)}")
        )

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ------------------------------------------------------------------------------ inputs
    def accept(self, topic: str, msg, convert, apply, sender: str = "") -> bool:
        """Screen one message (stamp, conversion), then hand it to the arbiter; False: rejected."""
        now = self.now()
        stamp = rc.stamp_to_sec(msg.header.stamp)
        why = self.guard.stamp_problem(topic, stamp, now, sender)
        if why is None:
            try:
                apply(convert(msg, now))
                return True
            except (ValueError, TypeError, IndexError, OverflowError) as exc:
                why = f"{type(exc).__name__}: {exc}"
        line, first = self.guard.reject(topic, why)
        errors = getattr(self, "input_errors", None)  # the shared runtime's counts (hitl_core/ros/runtime.py)
        if errors is not None:
            errors.reject(self.resolve_topic_name(topic), why)  # logged there, summed up at shutdown
        elif first:
            self.get_logger().warning(line)
        else:
            self.get_logger().warning(line, throttle_duration_sec=2.0)
        return False

    def on_observation(self, msg: Observation) -> None:
        n = self.profile.n_arms
        self.accept("observation", msg, lambda m, t: rc.observation_in(m, n, t), self.arbiter.on_observation)

    def on_chunk(self, msg: ActionChunk) -> None:
        self.accept("action_chunk", msg, rc.chunk_in, self.arbiter.on_action_chunk)

    def on_uncertainty(self, msg: Uncertainty) -> None:
        self.accept("uncertainty", msg, rc.uncertainty_in, self.arbiter.on_uncertainty)

    def on_teleop(self, msg: TeleopCommand) -> None:
        sender = f"{msg.device}/{msg.operator_id}/{msg.arm_index}"
        if self.accept("teleop", msg, rc.teleop_in, self.arbiter.on_teleop, sender) and self.hands_over(msg):
            self.on_tick()  # apply the take-over now, not up to one control period later
            if self.arbiter.source != Source.HUMAN:  # refused (e.g. a hold): no flood of early ticks
                self.refused_at = self.last_tick
            self.tick_timer.reset()  # the next tick one period from now: the rate is unchanged

    def hands_over(self, msg: TeleopCommand) -> bool:
        """Does this sample give the human control (applied at once)?"""
        if not msg.engaged or self.arbiter.source == Source.HUMAN:
            return False
        if self.now() - self.refused_at < self.period:  # a refused take-over: no new early tick this period
            return False
        gating = self.arbiter.config.gating
        if msg.take_over and gating in ("human", "both"):
            return True
        return self.arbiter.source == Source.PAUSED and self.help_requested

    def on_event(self, msg: EpisodeEvent) -> None:
        self.accept("episode_event", msg, rc.episode_event_in, self.arbiter.on_episode_event)

    def on_set_mode(self, req, resp):
        try:
            prev = self.arbiter.request_source(Source(req.source), req.operator_id, req.reason)
        except ValueError as exc:
            resp.success, resp.message = False, str(exc)
            return resp
        resp.success, resp.message, resp.previous_source = True, "applied on the next tick", int(prev)
        return resp

    # -------------------------------------------------------------------- other publishers
    def foreign_publishers(self) -> list[str]:
        """Publishers of this robot's arm_command / control_state other than this node."""
        me = (self.get_name(), self.get_namespace())
        found = []
        for topic in ("arm_command", "control_state"):
            name = self.resolve_topic_name(topic)
            infos = self.get_publishers_info_by_topic(name)
            mine = [i for i in infos if (i.node_name, i.node_namespace) == me]
            others = [i for i in infos if (i.node_name, i.node_namespace) != me]
            if len(mine) > 1:  # a second node with this very name (two graphs, one namespace)
                others += mine[1:]
            found += [f"{name} from {i.node_namespace.rstrip('/')}/{i.node_name}" for i in others]
        return found

    def check_conflict(self) -> None:
        others = self.foreign_publishers()
        text = ("another publisher of this robot's commands: " + ", ".join(others)
                + " (two graphs on one ROS_DOMAIN_ID and namespace?): holding") if others else ""
        if text != self.arbiter.conflict:
            if text:
                self.get_logger().error(text)
            else:
                self.get_logger().warning("the other publisher is gone: control resumes")
            self.arbiter.conflict = text

    # ------------------------------------------------------------------------------ output
    def publish(self, out) -> None:
        log = self.get_logger()
        for rec in out.log:
            if rec.level >= LogLevel.WARNING:
                log.warning(rec.text)
            elif rec.routine:  # clamps: every tick with far absolute targets
                log.info(rec.text, throttle_duration_sec=2.0)
            else:
                log.info(rec.text)
        self.pub_cmd.publish(rc.arm_command_msg(out.command, out.stamp, self.frame_id))
        self.pub_state.publish(rc.control_state_msg(out.state, out.stamp, self.frame_id))
        self.help_requested = bool(out.state.help_requested)
        if out.help_request is not None:
            self.pub_help.publish(rc.help_request_msg(out.help_request, out.stamp))
        if out.reset_request:
            self.request_reset()

    def request_reset(self) -> None:
        if not self.reset_client.service_is_ready():
            self.get_logger().error("reset_episode service not available")
            self.arbiter.on_reset_done(False, message="reset_episode service not available")
            return
        future = self.reset_client.call_async(ResetEpisode.Request(hard=True))

        def done(f) -> None:
            try:
                r = f.result()
                self.arbiter.on_reset_done(bool(r.success), int(r.episode), r.message)
            except Exception as exc:  # the call failed: say so, stay safe (paused)
                self.arbiter.on_reset_done(False, message=str(exc))

        future.add_done_callback(done)

    def on_tick(self) -> None:
        self.last_tick = self.now()
        self.publish(self.arbiter.tick(self.last_tick))

    def on_watchdog(self) -> None:
        out = self.arbiter.watchdog(self.now())
        if out is not None:
            self.publish(out)


def main(args: list[str] | None = None) -> int:
    return run_node(ArbiterNode, args, USAGE, "arbiter_node", ROS, errors=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
