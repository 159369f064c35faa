"""Fleet over DDS: 8 robots (driven by this test: help requests, control state, the simulator state) and
2 simulated operators (sim_operator_node, fleet:=true) served by fleet_allocator_node.

The two most uncertain requesters are served; an assignment holds for t_T (t_R for a hard reset) even
when its robot stops asking; a freed operator goes to the next in line; every hand-over is published
with its operator id and that operator's teleop reaches that robot."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    import rclpy  # noqa: F401

    import hitl_msgs.msg  # noqa: F401

from fleet_fake import FakeFleet
from hitl_core.ros.testing import output, spawn, stop

pytestmark = [pytest.mark.ros, pytest.mark.slow]
T_T, T_R = 2.0, 3.0
OPS = ["op_0", "op_1"]


def start(module: str, name: str, *params: str):
    cmd = [sys.executable, "-m", f"hitl_teleop.nodes.{module}", "--ros-args", "-r", f"__node:={name}"]
    for p in params:
        cmd += ["-p", p]
    return spawn(cmd)  # on the module's domain (ros_graph sets ROS_DOMAIN_ID)


def test_eight_robots_two_operators(ros_node):
    robots = [f"robot_{i}" for i in range(8)]
    procs = [start("fleet_allocator_node", "fleet_allocator", f"robot_ids:=[{', '.join(robots)}]",
                   f"operator_ids:=[{', '.join(OPS)}]", f"min_intervention_s:={T_T}", f"hard_reset_s:={T_R}",
                   "rate_hz:=10.0", "request_timeout_s:=1.0")]
    procs += [start("sim_operator_node", op, "fleet:=true", "task:=nav", f"operator_id:={op}", f"style:={j}",
                    "reaction_delay_ticks:=1") for j, op in enumerate(OPS)]
    fleet = FakeFleet(ros_node, robots)

    def fail(what: str) -> str:
        return f"{what}; status {fleet.serving()}\n" + "\n".join(output(p) for p in procs)

    try:
        for r, p in zip(robots, [0.1, 0.9, 0.3, 0.8, 0.2, 0.4, 0.05, 0.6], strict=True):
            fleet.prio[r] = p
        # 1. the two most uncertain requesters (robot_1 0.9, robot_3 0.8) are served, and their operators drive
        assert ros_node.spin_until(lambda: set(fleet.serving()) == {"robot_1", "robot_3"}, 90, every=fleet.tick), fail(
            "top two not served")
        first = fleet.serving()
        assert sorted(first.values()) == OPS
        assert ros_node.spin_until(lambda: all(any(m.engaged and m.operator_id == first[r] for m in fleet.teleop[r])
                                           for r in ("robot_1", "robot_3")), 30, every=fleet.tick), fail("no teleop")
        # requests arrive one by one over DDS, so an early decision may have served another robot first;
        # but an operator drives only robots the allocator gave it
        pairs = {(a.operator_id, a.robot_id) for m in fleet.assignments for a in m.assignments if a.assigned}
        assert all((m.operator_id, r) in pairs for r in robots for m in fleet.teleop[r] if m.engaged)
        queue = list(fleet.status[-1][1].queue_robots)
        assert queue[:3] == ["robot_7", "robot_5", "robot_2"]  # waiting, highest priority first

        # 2. robot_1 stops being uncertain, robot_5 becomes the most uncertain: robot_1 keeps its operator
        #    for t_T, then that operator goes to robot_5 (the next in line)
        op1, start1 = first["robot_1"], fleet.start_of("robot_1")
        fleet.prio["robot_1"], fleet.prio["robot_5"] = 0.01, 0.95
        assert ros_node.spin_until(lambda: fleet.serving().get("robot_5") == op1, 30, every=fleet.tick), fail(
            "freed operator did not go to robot_5")
        kept = [t for t, m in fleet.status if any(a.robot_id == "robot_1" for a in m.assignments)
                and m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 > start1]
        last_with_1 = max(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for t, m in fleet.status
                          if any(a.robot_id == "robot_1" for a in m.assignments))
        assert kept and last_with_1 - start1 >= T_T - 0.15, (last_with_1 - start1)
        assert ros_node.spin_until(lambda: any(m.engaged and m.operator_id == op1 for m in fleet.teleop["robot_5"]),
                               30, every=fleet.tick), fail("operator did not drive robot_5")

        # 3. robot_6 needs a hard reset: served first when an operator frees up, held t_R though it stops asking
        fleet.hard["robot_6"] = True
        assert ros_node.spin_until(lambda: "robot_6" in fleet.serving(), 30, every=fleet.tick), fail("hard reset")
        start6 = fleet.start_of("robot_6")
        fleet.hard["robot_6"], fleet.active["robot_6"] = False, False
        assert ros_node.spin_until(lambda: "robot_6" not in fleet.serving(), 30, every=fleet.tick), fail("t_R release")
        last6 = max(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for t, m in fleet.status
                    if any(a.robot_id == "robot_6" for a in m.assignments))
        assert last6 - start6 >= T_R - 0.15, last6 - start6
        assert fleet.status[-1][1].hard_resets >= 1

        # 4. every hand-over is on /fleet/assignments with its operator id, and the status counts them
        def starts() -> set:
            return {(a.operator_id, a.robot_id, a.header.stamp.sec, a.header.stamp.nanosec)
                    for m in fleet.assignments for a in m.assignments if a.assigned}

        first = fleet.status[0][1]
        t_first = first.header.stamp.sec + first.header.stamp.nanosec * 1e-9

        def later() -> list:  # hand-overs after this test's first status (DDS discovery before it)
            return [s for s in starts() if s[2] + s[3] * 1e-9 > t_first + 1e-6]

        ros_node.spin_until(lambda: fleet.status[-1][1].handovers - first.handovers == len(later()), 10,
                        every=fleet.tick)
        assert fleet.status[-1][1].handovers - first.handovers == len(later())
        started = starts()
        assert started and all(op in OPS for op, *_ in started)
        robots_served = {r for _, r, *_ in started}
        assert {"robot_1", "robot_3", "robot_5", "robot_6"} <= robots_served
        assert np.all(np.asarray(fleet.status[-1][1].queue_waiting_s) >= 0)
        pairs = {(a.operator_id, a.robot_id) for m in fleet.assignments for a in m.assignments if a.assigned}
        assert all((m.operator_id, r) in pairs for r in robots for m in fleet.teleop[r] if m.engaged)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
