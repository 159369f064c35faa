"""Fixtures shared by hitl_teleop's ROS tests. rclpy is imported inside the fixture: the pure tests in
this folder run without ROS."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def node(request):
    """A test node on the test module's private ROS domain (its ``DOMAIN``), with its own executor
    (``node.ex``) and ``node.spin_until(cond, timeout, every=None, period=0.05)``."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=request.module.DOMAIN)
    n = rclpy.create_node(request.module.__name__.rsplit(".", 1)[-1], context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(n)

    def spin_until(cond, timeout: float, every=None, period: float = 0.05) -> bool:
        """Spin (calling ``every`` each round) until ``cond()`` holds or ``timeout`` s pass."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if every is not None:
                every()
            ex.spin_once(timeout_sec=period)
            if cond():
                return True
        return False

    n.ex, n.spin_until = ex, spin_until
    yield n
    ex.shutdown()
    n.destroy_node()
    rclpy.shutdown(context=ctx)
