"""An operator's heartbeat on ``/fleet/operator_heartbeat``, sent only while its node hears the allocator
(hitl_teleop/fleet.py ``HeartbeatGate`` says why); shared by sim_operator_node and teleop_router_node."""

from __future__ import annotations

import time

from hitl_teleop.fleet import HEARTBEAT_PERIOD_S, HEARTBEAT_TOPIC, HeartbeatGate


def gated_heartbeat(node, operator_id: str) -> HeartbeatGate:
    """Beat for ``operator_id`` from ``node`` every ``HEARTBEAT_PERIOD_S`` while the returned gate has
    been told (``heard``, from the node's /fleet/assignments callback) that the allocator is heard."""
    from std_msgs.msg import String

    gate = HeartbeatGate(time.monotonic())
    pub = node.create_publisher(String, HEARTBEAT_TOPIC, 10)

    def beat() -> None:
        ok, line = gate.update(time.monotonic())
        if line and ok:  # two call sites: rclpy refuses two severities from one
            node.get_logger().info(f"{operator_id}: {line}")
        elif line:
            node.get_logger().warning(f"{operator_id}: {line}")
        if ok:
            pub.publish(String(data=operator_id))

    node.create_timer(HEARTBEAT_PERIOD_S, beat)
    return gate
