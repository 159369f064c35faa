"""fleet_allocator_node: Fleet-DAgger allocation of M operators to N robots (thin adapter over fleet.py).

Subscribes ``/<robot_id>/help_request`` and ``/<robot_id>/episode_event`` for every robot in
``robot_ids``; publishes the current assignments on ``/fleet/assignments`` and the fleet's live state
(who serves whom, the queue with priorities and waiting times, hard resets, ROHE so far) on
``/fleet/status`` at ``rate_hz``, and logs every hand-over with its operator id. A request that is not
refreshed within ``request_timeout_s`` counts as withdrawn (arbiters republish every tick).
With ``operator_timeout_s`` > 0 it also listens to ``/<robot_id>/teleop``: an operator that has held
robots for longer than that without a teleop message from it (its process died, its link dropped;
timed from the start of its busy period, moves between robots included) loses its robot, which goes
to the next free operator, and gets none for ``operator_retry_s`` (``OperatorPresence``, fleet.py).
With ``operator_heartbeat_s`` > 0 an operator gets robots only while its device node's heartbeat on
``/fleet/operator_heartbeat`` is at most that old (``OperatorHeartbeats``, fleet.py): one that has just
started is not handed a robot before it can be heard, and one whose beat stops loses its robot.
"""

from __future__ import annotations

import sys

from hitl_core.ros.node_main import RosImports, run_node

from hitl_teleop.fleet import (
    HEARTBEAT_TOPIC,
    FleetAllocator,
    FleetConfig,
    FleetLedger,
    OperatorHeartbeats,
    OperatorPresence,
    RobotRequest,
)

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    from hitl_msgs.msg import EpisodeEvent, FleetAssignment, FleetStatus, HelpRequest, TeleopCommand
    from hitl_teleop import ros_conversions as rc

USAGE = """usage: fleet_allocator_node [--help] [--ros-args -p name:=value ...]

Assigns M operators to the N robots that need help most (hard resets first, then uncertainty),
keeping each assignment at least t_T (t_R for a hard reset).

parameters:
  robot_ids          (string[], ['robot_0'])  robots (namespaces) to serve
  operator_ids       (string[], [])           operators; empty: num_operators ids 'sim_operator_<i>'
  num_operators      (int, 1)
  threshold          (double, 0.0)            serve a robot only when its priority > threshold
  min_intervention_s (double, 1.0)            t_T
  hard_reset_s       (double, 2.0)            t_R
  hard_reset_first   (bool, true)             hard resets before every uncertainty
  request_timeout_s  (double, 0.5)            a request older than this is withdrawn
  rate_hz            (double, 10.0)           allocation rate
  control_rate_hz    (double, 10.0)           robots' control rate (human steps for ROHE)
  operator_timeout_s (double, 0.0)            > 0: an assigned operator silent this long is absent
  operator_retry_s   (double, 5.0)            an absent operator gets robots again after this
  operator_heartbeat_s (double, 0.0)          > 0: only operators whose heartbeat is this fresh get robots
topics: sub /<robot_id>/help_request, /<robot_id>/episode_event (/<robot_id>/teleop,
        /fleet/operator_heartbeat);
        pub /fleet/assignments, /fleet/status
"""


class FleetAllocatorNode(Node):
    """Assigns operators to robots from their help requests (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("fleet_allocator")
        p = self.declare_parameter
        self.robot_ids = [r.strip("/") for r in p("robot_ids", ["robot_0"]).value]
        ops = [o for o in p("operator_ids", [""]).value if o]
        n_ops = int(p("num_operators", 1).value)
        self.cfg = FleetConfig(
            operator_ids=ops or [f"sim_operator_{i}" for i in range(n_ops)],
            threshold=float(p("threshold", 0.0).value),
            min_intervention=float(p("min_intervention_s", 1.0).value),
            hard_reset_time=float(p("hard_reset_s", 2.0).value),
            hard_reset_first=bool(p("hard_reset_first", True).value),
        )
        self.timeout = float(p("request_timeout_s", 0.5).value)
        rate = float(p("rate_hz", 10.0).value)
        self.allocator = FleetAllocator(self.cfg)
        self.ledger = FleetLedger(len(self.robot_ids), len(self.cfg.operator_ids),
                                  float(p("control_rate_hz", 10.0).value))
        self.requests: dict[str, tuple[float, RobotRequest]] = {}
        for rid in self.robot_ids:
            self.create_subscription(
                HelpRequest, f"/{rid}/help_request", lambda m, rid=rid: self.on_help(rid, m), 10
            )
            self.create_subscription(EpisodeEvent, f"/{rid}/episode_event", self.on_episode, 10)
        self.operator_timeout = float(p("operator_timeout_s", 0.0).value)
        self.operator_retry = float(p("operator_retry_s", 5.0).value)
        self.presence = OperatorPresence(self.operator_timeout, self.operator_retry)
        if self.operator_timeout > 0:
            for rid in self.robot_ids:
                self.create_subscription(TeleopCommand, f"/{rid}/teleop", self.on_teleop, 10)
        self.heartbeats = OperatorHeartbeats(self.cfg.operator_ids, float(p("operator_heartbeat_s", 0.0).value))
        if self.heartbeats.timeout > 0:
            self.create_subscription(String, HEARTBEAT_TOPIC,
                                     lambda m: self.heartbeats.beat(m.data, self.now()), 10)
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self.pub = self.create_publisher(FleetAssignment, "/fleet/assignments", latched)
        self.pub_status = self.create_publisher(FleetStatus, "/fleet/status", 10)
        self.create_timer(1.0 / rate, self.on_timer)
        self.get_logger().info(f"{len(self.cfg.operator_ids)} operators for robots {self.robot_ids}")

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_help(self, rid: str, msg: HelpRequest) -> None:
        req = rc.robot_request(msg)
        req.robot_id = rid
        self.requests[rid] = (self.now(), req)

    def on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_END and msg.note != "finished":  # not the republished last END
            self.ledger.episode_end(bool(msg.success))

    def on_teleop(self, msg: TeleopCommand) -> None:
        self.presence.heard_from(msg.operator_id, self.now())

    def absent(self, now: float) -> set[str]:
        """Operators off line (operator_heartbeat_s) or that went silent while holding a robot
        (operator_timeout_s, for operator_retry_s)."""
        offline, came, lost = self.heartbeats.update(now)
        for op in came:
            self.get_logger().info(f"{op}: heartbeat heard, on line")
        for op, silent in lost:
            self.get_logger().warning(f"{op}: no heartbeat for {silent:.2f} s: off line, gets no robot")
        absent, newly = self.presence.update(self.allocator.assignments.values(), now)
        for op, robot, silent in newly:
            self.get_logger().warning(f"{op}: no teleop for {silent:.2f} s (now on {robot}): absent, its robot "
                                      f"goes to the next operator (retried in {self.operator_retry:g} s)")
        return absent | offline

    def on_timer(self) -> None:
        now = self.now()
        reqs = [
            r if now - t <= self.timeout else RobotRequest(rid, r.priority, r.hard_reset, False)
            for rid, (t, r) in self.requests.items()
        ]
        alloc = self.allocator.update(reqs, now, self.absent(now))
        self.ledger.update(alloc, now)
        for a in alloc.started:
            self.get_logger().info(
                f"{a.operator_id} -> {a.robot_id} (priority {a.priority:.3f}"
                f"{', hard reset' if a.hard_reset else ''})"
            )
        for a in alloc.released:
            self.get_logger().info(
                f"{a.operator_id} released from {a.robot_id} after {now - a.start:.2f} s"
            )
        self.pub.publish(
            rc.fleet_assignment_msg(
                alloc.assignments, alloc.released, alloc.waiting, now, lambda a: a.min_duration(self.cfg)
            )
        )
        by_id = {r.robot_id: r for r in reqs}
        self.pub_status.publish(rc.fleet_status_msg(alloc, by_id, self.ledger, self.cfg, now))


def main(args: list[str] | None = None) -> int:
    return run_node(FleetAllocatorNode, args, USAGE, "fleet_allocator_node", ROS, errors=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
