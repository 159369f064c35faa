"""sim_operator_node: a scripted stand-in for a human operator (thin ROS adapter over sim_operator.py).

Steps once per ``sim/state`` message (one per simulator tick): reads the arbiter's latest
``control_state``, runs the task's scripted expert when driving and publishes ``teleop``
(MODE_ABSOLUTE, one message per end effector, engaged=false while idle). Between ticks it repeats
the latest command at ``rate_hz``, as a real device streams while its operator holds still (an
absolute target repeated is the same command), so the arbiter's ``device_timeout_s`` can be short.
With ``fleet:=true`` it serves whichever robot ``/fleet/assignments`` gives it (topics under
/<robot_id>/) and beats on ``/fleet/operator_heartbeat`` while it hears the allocator (the allocator
hands robots only to operators it hears there, hitl_teleop/fleet.py ``OperatorHeartbeats`` and
``HeartbeatGate``).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from hitl_core.ros.node_main import RosImports, run_node
from hitl_sim.arms import load_arm_profile

from hitl_teleop.nodes.fleet_heartbeat import gated_heartbeat
from hitl_teleop.sim_operator import OperatorOutput, SimOperatorConfig, SimulatedOperator
from hitl_teleop.teleop_router import robots_in

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node

    from hitl_msgs.msg import ControlState, FleetAssignment, Observation, TeleopCommand
    from hitl_teleop import ros_conversions as rc

USAGE = """usage: sim_operator_node [--help] [--ros-args -p name:=value ...]

Simulated operator: answers help requests after a reaction delay (or takes over at will) and
drives with the task's scripted expert.

parameters:
  task                 (string, 'lift')        hitl_sim task (scripted expert)
  arm                  (string, 'franka')      arm profile (number of end effectors, frame)
  operator_id          (string, 'sim_operator')
  reaction_delay_ticks (int, 3)                ticks between a request and engaging
  human_gated          (bool, false)           take over at will (under takeover_rule)
  takeover_rule        (string, 'wrong_way')   wrong_way | random | none
  takeover_prob        (double, 0.02)          per-tick probability (rule 'random')
  takeover_ticks       (int, 10)               minimum length of a take-over
  max_human_steps      (int, 0)                budget per episode (0: unlimited)
  style                (int, -1)               expert style (heterogeneous operators); -1: the task decides
  noise                (double, 0.0)           expert position noise (m)
  seed                 (int, 0)
  handback             (string, 'score')       score: drive until the arbiter hands back; milestone: also
                                               hand back (press+release take-over) at the task's next milestone
  fleet                (bool, false)           follow /fleet/assignments instead of the own namespace
  backend              (string, 'auto')        expert's simulator: mujoco | kinematic | auto (as sim_arm_node's)
  rate_hz              (double, 20.0)          teleop stream rate: the latest command is repeated between ticks
topics: sub control_state, sim/state, observation (/fleet/assignments with fleet);
        pub teleop (/fleet/operator_heartbeat with fleet)
"""


class SimOperatorNode(Node):
    """Steps a SimulatedOperator on every sim/state message and publishes its teleop (the module docstring)."""

    def __init__(self) -> None:
        super().__init__("sim_operator")
        p = self.declare_parameter
        self.profile = load_arm_profile(p("arm", "franka").value)
        style = int(p("style", -1).value)
        cfg = SimOperatorConfig(
            operator_id=p("operator_id", "sim_operator").value,
            reaction_delay_ticks=int(p("reaction_delay_ticks", 3).value),
            human_gated=bool(p("human_gated", False).value),
            takeover_rule=p("takeover_rule", "wrong_way").value,
            takeover_prob=float(p("takeover_prob", 0.02).value),
            takeover_ticks=int(p("takeover_ticks", 10).value),
            max_human_steps=int(p("max_human_steps", 0).value),
            style=None if style < 0 else style,
            noise=float(p("noise", 0.0).value),
            seed=int(p("seed", 0).value),
            handback=str(p("handback", "score").value),
            backend=str(p("backend", "auto").value),
        )
        rate = float(p("rate_hz", 20.0).value)
        if not rate > 0.0:
            raise ValueError(f"rate_hz must be > 0, got {rate}")
        self.period = 1.0 / rate
        self.last_out: OperatorOutput | None = None
        self.last_sent = 0.0
        self.task = p("task", "lift").value
        self.fleet = bool(p("fleet", False).value)
        self.operator = SimulatedOperator(self.task, cfg)
        self.control: ControlState | None = None
        self.obs: np.ndarray | None = None
        self.robot: str | None = None
        self.prefix: str | None = None  # the served robot's topic prefix ('' outside a fleet)
        self.subs: dict[str, list] = {}  # prefix -> its robot's subscriptions, kept across hand-overs
        self.pub = None
        self.pubs: dict[str, object] = {}  # prefix -> teleop publisher, kept across hand-overs
        if self.fleet:
            self.create_subscription(FleetAssignment, "/fleet/assignments", self.on_assignments, 10)
            self.heartbeat = gated_heartbeat(self, cfg.operator_id)
        else:
            self.attach("")
        self.create_timer(self.period / 2, self.on_stream)
        self.get_logger().info(
            f"{cfg.operator_id}: task {self.task}, delay {cfg.reaction_delay_ticks} ticks, "
            f"{'human-gated (' + cfg.takeover_rule + ')' if cfg.human_gated else 'robot-gated'}"
            f"{', fleet' if self.fleet else ''}"
        )

    def attach(self, prefix: str) -> None:
        """Serve the robot under prefix ('' = own namespace, '/robot_3/' in fleet mode).

        Its subscriptions and its teleop publisher are made the first time and kept (as
        teleop_router_node keeps its publishers); messages of a robot not served are dropped in the
        callbacks. Creating and destroying DDS readers at every hand-over blocked this node's executor
        for seconds on the loaded soak machine (26 of 40 stack samples of an operator in soak run h were
        inside create_subscription / destroy_subscription): no heartbeat, no teleop stream, so the
        allocator took its robot away, which caused the next hand-over. The device streams "idle" from
        the moment it is given a robot: a new publisher is only heard once DDS has matched it."""
        self.control, self.obs = None, None
        self.prefix = prefix
        if prefix not in self.subs:
            self.subs[prefix] = [
                self.create_subscription(ControlState, prefix + "control_state",
                                         lambda m, p=prefix: self.on_control(p, m), 10),
                self.create_subscription(Observation, prefix + "observation", lambda m, p=prefix: self.on_obs(p, m),
                                         10),
                self.create_subscription(Observation, prefix + "sim/state", lambda m, p=prefix: self.on_state(p, m),
                                         10),
            ]
        self.pub = self.publisher_for(prefix)
        self.publish(OperatorOutput(False, False, None, "idle"))  # repeated by on_stream until it steps

    def publisher_for(self, prefix: str):
        if prefix not in self.pubs:
            self.pubs[prefix] = self.create_publisher(TeleopCommand, prefix + "teleop", 10)
        return self.pubs[prefix]

    def on_assignments(self, msg: FleetAssignment) -> None:
        self.heartbeat.heard(time.monotonic())
        for robot in robots_in((a.robot_id for a in msg.assignments), msg.waiting_robots):
            self.publisher_for(f"/{robot}/")  # made before this operator is handed the robot (robots_in)
        mine = [
            a.robot_id
            for a in msg.assignments
            if a.assigned and a.operator_id == self.operator.config.operator_id
        ]
        robot = mine[0] if mine else None
        if robot == self.robot:
            return
        if self.pub is not None:  # hand the previous robot back (its subscriptions and publisher are kept)
            self.publish(OperatorOutput(False, False, None, "idle"))
            self.pub, self.prefix = None, None
        self.robot = robot
        self.operator.reset()
        if robot is not None:
            self.attach(f"/{robot.strip('/')}/")
            self.get_logger().info(f"assigned to {robot}")

    def on_control(self, prefix: str, msg: ControlState) -> None:
        if prefix == self.prefix:
            self.control = msg

    def on_obs(self, prefix: str, msg: Observation) -> None:
        if prefix == self.prefix:
            self.obs = np.asarray(msg.data, float)

    def on_state(self, prefix: str, msg: Observation) -> None:
        if prefix != self.prefix or self.control is None:
            return
        try:
            out = self.operator.step(rc.control_view(self.control), np.asarray(msg.data, float), self.obs)
        except ValueError as exc:  # a malformed state: counted by the shared runtime (hitl_core/ros/runtime.py)
            errors = getattr(self, "input_errors", None)
            if errors is not None:
                errors.reject(self.subs[prefix][2].topic_name, f"expert failed on this state: {exc}")
            else:
                self.get_logger().error(f"expert failed on this state: {exc}", throttle_duration_sec=2.0)
            out = OperatorOutput(False, False, None, "idle")
        self.publish(out)

    def on_stream(self) -> None:
        """Repeat the latest command once a period has passed without one (the device's stream)."""
        now = self.get_clock().now().nanoseconds * 1e-9
        if self.pub is not None and self.last_out is not None and now - self.last_sent >= self.period:
            self.publish(self.last_out)

    def publish(self, out: OperatorOutput) -> None:
        t = self.get_clock().now().nanoseconds * 1e-9
        self.last_out, self.last_sent = out, t
        for m in rc.teleop_msgs(
            out, self.profile.n_arms, self.operator.config.operator_id, t, self.profile.base_frame
        ):
            self.pub.publish(m)


def main(args: list[str] | None = None) -> int:
    return run_node(SimOperatorNode, args, USAGE, "sim_operator_node", ROS, errors=(ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
