"""console_node: the remote operator console (docs/console.md): a web page per operator, served over
HTTP + WebSocket, showing each robot's control state, uncertainty, help requests, scene and counts,
and publishing the operator's TeleopCommand (device "console") on the robot's ``teleop``.

The logic lives in hitl_teleop.console (pure); this node only moves messages.
"""

from __future__ import annotations

import os
import sys

from hitl_core.ros.node_main import RosImports, run_node

from hitl_teleop.console.controller import ConsoleController
from hitl_teleop.console.server import ConsoleConfigError, ConsoleServer, parse_tokens
from hitl_teleop.console.state import ConsoleState
from hitl_teleop.console.views import marker_items, observation_ee
from hitl_teleop.devices.common import to_msg
from hitl_teleop.nodes.device_node_util import frame_id_for

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile
    from visualization_msgs.msg import MarkerArray

    from hitl_msgs.msg import (
        ControlState,
        EpisodeEvent,
        FleetAssignment,
        HelpRequest,
        Observation,
        TeleopCommand,
        Uncertainty,
    )

USAGE = """usage: console_node [--help] [--ros-args -p name:=value ...]

Operator console in the browser: open http://127.0.0.1:8080/ (add ?token=... when a token is set).

parameters:
  robots       (string[], [''])         robot namespaces to show ('' = this node's namespace)
  robot_id     (string, '')             id shown for '' (default: the namespace, or robot_0)
  address      (string, '127.0.0.1')    bind address; another one needs allow_remote:=true and a token
  port         (int, 8080)              0 = any free port (logged)
  allow_remote (bool, false)
  token        (string, '')             required on every request when set (also $HITL_CONSOLE_TOKEN)
  operators    (string, '')             more operators: 'alice=TOKEN_A,bob=TOKEN_B'
  operator_id  (string, 'operator_0')   the operator of `token` (or of everyone without tokens)
  arm          (string, '')             arm profile: frame_id = its base frame
  rate_hz      (double, 20.0)           TeleopCommand rate while an operator drives
  image_topic  (string, '')             optional sensor_msgs/Image (rgb8/bgr8) shown as a camera view
topics: sub control_state, help_request, uncertainty, observation, scene_markers, episode_event
        (per robot), /fleet/assignments; pub teleop (per robot, hitl_msgs/TeleopCommand)
"""


class ConsoleNode(Node):
    """The console's ROS side (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("console")
        p = self.declare_parameter
        robots = [str(r).strip("/") for r in p("robots", [""]).value] or [""]
        own = p("robot_id", "").value or self.get_namespace().strip("/").replace("/", "_") or "robot_0"
        self.topics = {(r or own): (f"/{r}/" if r else "") for r in robots}
        operator = p("operator_id", "operator_0").value
        token = p("token", "").value or os.environ.get("HITL_CONSOLE_TOKEN", "")
        tokens = parse_tokens(token, p("operators", "").value, operator)
        rate = float(p("rate_hz", 20.0).value)
        if rate <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate}")
        self.state = ConsoleState(list(self.topics), clock=self.now)
        self.teleop_pubs = {rid: self.create_publisher(TeleopCommand, prefix + "teleop", 10)
                            for rid, prefix in self.topics.items()}
        self.controller = ConsoleController(
            self.state, self.publish_sample, self.now,
            frame_id=frame_id_for(p("arm", "").value, ""))
        for rid, prefix in self.topics.items():
            self.create_subscription(ControlState, prefix + "control_state",
                                     lambda m, rid=rid: self.on_control(rid, m), 10)
            self.create_subscription(HelpRequest, prefix + "help_request",
                                     lambda m, rid=rid: self.state.on_help(
                                         rid, active=m.active, priority=m.priority,
                                         uncertainty=m.uncertainty, reason=m.reason), 10)
            self.create_subscription(Uncertainty, prefix + "uncertainty",
                                     lambda m, rid=rid: self.state.on_uncertainty(rid, m.score, m.threshold), 10)
            self.create_subscription(Observation, prefix + "observation",
                                     lambda m, rid=rid: self.state.on_observation(rid, observation_ee(m)), 10)
            self.create_subscription(MarkerArray, prefix + "scene_markers",
                                     lambda m, rid=rid: self.state.on_scene(rid, marker_items(m)), 10)
            self.create_subscription(EpisodeEvent, prefix + "episode_event",
                                     lambda m, rid=rid: self.state.on_episode_event(
                                         rid, episode=m.episode, event=m.event, success=m.success,
                                         failed=m.failed, note=m.note), 10)
        image_topic = p("image_topic", "").value
        if image_topic:
            from sensor_msgs.msg import Image

            from hitl_teleop.console.views import image_jpeg_b64

            for rid, prefix in self.topics.items():
                topic = image_topic if image_topic.startswith("/") else prefix + image_topic
                self.create_subscription(Image, topic, lambda m, rid=rid: self.on_image(rid, m, image_jpeg_b64), 2)
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(FleetAssignment, "/fleet/assignments", self.on_fleet, latched)
        self.server = ConsoleServer(
            self.controller, address=p("address", "127.0.0.1").value, port=int(p("port", 8080).value),
            tokens=tokens, default_operator=operator, allow_remote=bool(p("allow_remote", False).value),
            log=lambda text: self.get_logger().info(text))
        port = self.server.start()
        self.create_timer(1.0 / rate, self.controller.tick)
        access = "token required" if tokens else "no token (loopback only)"
        self.get_logger().info(f"console on http://{self.server.address}:{port}/ ({access}); "
                               f"robots {list(self.topics)}")

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def publish_sample(self, robot: str, sample) -> None:
        self.teleop_pubs[robot].publish(to_msg(sample, TeleopCommand))

    def on_control(self, rid: str, m: ControlState) -> None:
        self.state.on_control(rid, source=m.source, reason=m.reason, reason_text=m.reason_text,
                              operator_id=m.operator_id, episode=m.episode, step=m.step, holding=m.holding,
                              help_requested=m.help_requested, uncertainty=m.uncertainty,
                              threshold=m.threshold)

    def on_fleet(self, m: FleetAssignment) -> None:
        assignments = {a.robot_id.strip("/"): a.operator_id for a in m.assignments if a.assigned}
        self.state.on_fleet(assignments, [r.strip("/") for r in m.waiting_robots])

    def on_image(self, rid: str, m, encode) -> None:
        last = getattr(self, "_image_t", {}).get(rid, 0.0)
        if self.now() - last < 0.2:  # at most 5 images a second to the page
            return
        self._image_t = {**getattr(self, "_image_t", {}), rid: self.now()}
        try:
            self.state.on_image(rid, m.width, m.height, encode(m))
        except ValueError as exc:
            self.get_logger().warn(f"camera image of {rid} not shown: {exc}", throttle_duration_sec=10.0)

    def close(self) -> None:
        self.server.stop()


def main(args: list[str] | None = None) -> int:
    return run_node(ConsoleNode, args, USAGE, "console_node", ROS,
                    errors=(ValueError, RuntimeError, ConsoleConfigError, OSError))


if __name__ == "__main__":
    sys.exit(main())
