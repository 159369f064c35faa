"""The runner's live fleet table as a small ROS subscriber: /fleet/status redrawn until ``stop`` is set.

The table itself (rows, rich rendering) is plain code in fleet_table.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hitl_bringup.fleet_table import render, status_rows


def watch(stop: threading.Event, dead: Callable[[], Any] | None = None, rate_hz: float = 2.0) -> None:
    """Subscribe /fleet/status and redraw the table until ``stop`` is set (Ctrl-C sets it in the runner)."""
    import rclpy
    from hitl_core.ros.runtime import InputErrors
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    from rich.live import Live

    from hitl_msgs.msg import FleetStatus

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C stays the runner's (it sets stop)
    node = rclpy.create_node("fleet_table")
    latest: list = []
    # screened like every node's input (NaN/inf, stamps...): counted and logged, the table keeps the last good one
    errors = InputErrors(node.get_logger(), clock=lambda: node.get_clock().now().nanoseconds * 1e-9)
    keep = errors.wrap("/fleet/status", lambda m: latest.__setitem__(slice(None), [m]), screen=True)
    node.create_subscription(FleetStatus, "/fleet/status", keep, 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    try:
        with Live(refresh_per_second=rate_hz) as live:
            while not stop.is_set():
                ex.spin_once(timeout_sec=1.0 / rate_hz)
                if dead is not None:
                    dead()
                if latest:
                    live.update(render(status_rows(latest[0], time.time())))
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
