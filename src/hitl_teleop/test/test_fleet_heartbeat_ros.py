"""Operators on line by heartbeat (fleet_allocator_node with operator_heartbeat_s): an operator not heard
on /fleet/operator_heartbeat gets no robot; a sim_operator_node in fleet mode beats, and is served once
heard; an operator whose beat stops loses its robot to nobody else's harm."""

from __future__ import annotations

import sys

import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    from std_msgs.msg import String

from fleet_fake import FakeFleet
from hitl_core.ros.testing import output, spawn, stop
from hitl_teleop.fleet import HEARTBEAT_TOPIC

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ROBOTS = ["robot_0", "robot_1"]


def start(module: str, name: str, *params: str):
    cmd = [sys.executable, "-m", f"hitl_teleop.nodes.{module}", "--ros-args", "-r", f"__node:={name}"]
    for p in params:
        cmd += ["-p", p]
    return spawn(cmd)


def test_only_operators_heard_on_the_heartbeat_get_robots(ros_node):
    procs = [start("fleet_allocator_node", "fleet_allocator", f"robot_ids:=[{', '.join(ROBOTS)}]",
                   "operator_ids:=[hb_0, hb_1]", "min_intervention_s:=0.5", "rate_hz:=10.0",
                   "request_timeout_s:=1.0", "operator_heartbeat_s:=1.5")]
    fleet = FakeFleet(ros_node, ROBOTS)
    fleet.prio.update(robot_0=0.9, robot_1=0.8)
    beat = ros_node.create_publisher(String, HEARTBEAT_TOPIC, 10)
    beating = {"hb_0": True}

    def tick() -> None:
        fleet.tick()
        if beating["hb_0"]:
            beat.publish(String(data="hb_0"))

    def fail(what: str) -> str:
        return f"{what}; status {fleet.serving()}\n" + "\n".join(output(p) for p in procs)

    try:
        assert ros_node.spin_until(lambda: fleet.serving() == {"robot_0": "hb_0"}, 60, every=tick), fail("hb_0")
        ros_node.spin_for(2.0, every=tick)  # hb_1 is not heard: robot_1 waits though an operator is idle
        served = {a.operator_id for m in fleet.assignments for a in m.assignments if a.assigned}
        assert served == {"hb_0"}, fail("an operator never heard was given a robot")
        assert list(fleet.status[-1][1].queue_robots) == ["robot_1"]

        procs.append(start("sim_operator_node", "hb_1", "fleet:=true", "task:=nav", "operator_id:=hb_1"))
        assert ros_node.spin_until(lambda: fleet.serving().get("robot_1") == "hb_1", 90, every=tick), fail(
            "hb_1 (sim_operator_node) not served once it beats")
        assert ros_node.spin_until(lambda: any(m.operator_id == "hb_1" for m in fleet.teleop["robot_1"]), 30,
                                   every=tick), fail("hb_1 does not drive robot_1")

        beating["hb_0"] = False  # hb_0's device node dies: off line, its robot is released
        assert ros_node.spin_until(lambda: "hb_0" not in fleet.serving().values(), 30, every=tick), fail(
            "hb_0 kept its robot without a heartbeat")
        assert "hb_1" in fleet.serving().values()
        assert ros_node.spin_until(lambda: "hb_0: no heartbeat" in output(procs[0]), 10, every=tick)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
