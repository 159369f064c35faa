"""Fake robots for the fleet ROS tests: help requests, control state and simulator state of N robots.

Used in-process by test_fleet_ros.py, and as a script in the robots' network namespace by
test_fleet_netns.py: ``python fleet_fake.py --robots 8 --out result.json --timeout 120`` runs until the
two most uncertain robots are driven by two different operators, then writes what it saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from hitl_msgs.msg import ControlState, FleetAssignment, FleetStatus, HelpRequest, Observation, TeleopCommand

PRIORITIES = [0.1, 0.9, 0.3, 0.8, 0.2, 0.4, 0.05, 0.6]


class FakeFleet:
    """8 robots' topics: each tick publishes help_request, control_state and sim/state per robot."""

    def __init__(self, node, robots: list[str]) -> None:
        import hitl_sim

        self.node, self.robots = node, robots
        env = hitl_sim.make_env("nav", arm="franka", num_envs=len(robots), seed=0)
        env.reset()
        self.state_names, self.states = list(env.state_names), env.get_state()
        self.prio = dict.fromkeys(robots, 0.0)
        self.hard = dict.fromkeys(robots, False)
        self.active = dict.fromkeys(robots, True)
        self.teleop: dict[str, list[TeleopCommand]] = {r: [] for r in robots}
        self.status: list[tuple[float, FleetStatus]] = []
        self.assignments: list[FleetAssignment] = []
        self.pubs = {}
        for r in robots:
            self.pubs[r] = (node.create_publisher(HelpRequest, f"/{r}/help_request", 10),
                            node.create_publisher(ControlState, f"/{r}/control_state", 10),
                            node.create_publisher(Observation, f"/{r}/sim/state", 10))
            node.create_subscription(TeleopCommand, f"/{r}/teleop", self.teleop[r].append, 50)
        node.create_subscription(FleetStatus, "/fleet/status", lambda m: self.status.append((time.time(), m)), 50)
        node.create_subscription(FleetAssignment, "/fleet/assignments", self.assignments.append, 50)
        self._last = 0.0

    def tick(self) -> None:
        if time.monotonic() - self._last < 0.1:
            return
        self._last = time.monotonic()
        for k, r in enumerate(self.robots):
            help_pub, cs_pub, st_pub = self.pubs[r]
            asking = self.active[r]
            reason = HelpRequest.REASON_HARD_RESET if self.hard[r] else HelpRequest.REASON_UNCERTAINTY
            help_pub.publish(HelpRequest(robot_id=r, active=asking, priority=self.prio[r],
                                         uncertainty=self.prio[r], reason=reason))
            cs_pub.publish(ControlState(source=ControlState.SOURCE_PAUSED if asking else ControlState.SOURCE_POLICY,
                                        help_requested=asking, episode=1))
            st_pub.publish(Observation(names=self.state_names, data=[float(v) for v in self.states[k]]))

    def serving(self) -> dict[str, str]:
        if not self.status:
            return {}
        return {a.robot_id: a.operator_id for a in self.status[-1][1].assignments}

    def start_of(self, robot: str) -> float | None:
        for a in self.status[-1][1].assignments if self.status else []:
            if a.robot_id == robot:
                return a.header.stamp.sec + a.header.stamp.nanosec * 1e-9
        return None


def main(argv: list[str] | None = None) -> int:
    import rclpy

    p = argparse.ArgumentParser()
    p.add_argument("--robots", type=int, default=8)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    rclpy.init()
    node = rclpy.create_node("fake_robots")
    robots = [f"robot_{i}" for i in range(a.robots)]
    fleet = FakeFleet(node, robots)
    for r, pr in zip(robots, PRIORITIES * 4, strict=False):
        fleet.prio[r] = pr
    top2 = sorted(robots, key=lambda r: -fleet.prio[r])[:2]
    deadline = time.monotonic() + a.timeout
    ok = False
    while time.monotonic() < deadline:
        fleet.tick()
        rclpy.spin_once(node, timeout_sec=0.02)
        serving = fleet.serving()
        driven = {r: sorted({m.operator_id for m in fleet.teleop[r] if m.engaged}) for r in top2}
        if set(serving) == set(top2) and all(driven[r] == [serving[r]] for r in top2):
            ok = True
            break
    result = {"ok": ok, "serving": fleet.serving(), "top2": top2,
              "driven": {r: sorted({m.operator_id for m in fleet.teleop[r] if m.engaged}) for r in robots},
              "status_messages": len(fleet.status)}
    with open(a.out, "w") as f:
        json.dump(result, f)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
