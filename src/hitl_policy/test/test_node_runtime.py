"""The shared node runtime: setup errors are one line and exit 2; the same error class raised while
SIGINT tears the context down is a clean shutdown (exit 0), and close() always runs."""

from __future__ import annotations

import os
import random

import pytest

try:
    import rclpy
except ImportError as exc:
    if os.environ.get("HITL_REQUIRE_ROS") == "1":
        raise
    pytest.skip(f"rclpy not importable ({exc}); source scripts/env.sh", allow_module_level=True)

from hitl_policy.nodes import runtime

pytestmark = pytest.mark.ros


class Closing:
    """A node whose close() is recorded."""

    closed = 0

    def __init__(self) -> None:
        from rclpy.node import Node

        self.node = Node(f"runtime_test_{random.randint(0, 10**6)}")

    def close(self) -> None:
        Closing.closed += 1

    def destroy_node(self) -> None:
        self.node.destroy_node()


def argv() -> list[str]:
    return ["--ros-args", "-p", f"unused:={random.randint(0, 9)}"]


def test_error_from_a_callback_during_shutdown_is_a_clean_exit(monkeypatch, capsys):
    def spin_then_sigint(_node):
        rclpy.try_shutdown()  # what the SIGINT handler does to the context
        raise RuntimeError("Unable to convert call argument '0' to Python object")

    monkeypatch.setattr(rclpy, "spin", spin_then_sigint)
    before = Closing.closed
    assert runtime.spin(Closing, argv(), "test_node") == 0
    assert Closing.closed == before + 1 and capsys.readouterr().err == ""


def test_error_while_running_is_one_line_and_exit_2(monkeypatch, capsys):
    def fail(_node):
        raise RuntimeError("device vanished")

    monkeypatch.setattr(rclpy, "spin", fail)
    before = Closing.closed
    assert runtime.spin(Closing, argv(), "test_node") == 2
    assert capsys.readouterr().err.strip() == "test_node: device vanished"
    assert Closing.closed == before + 1 and not rclpy.ok()


def test_setup_error_is_one_line_and_exit_2(capsys):
    def broken():
        raise ValueError("checkpoint is corrupt")

    assert runtime.spin(broken, argv(), "test_node") == 2
    assert capsys.readouterr().err.strip() == "test_node: checkpoint is corrupt"
    assert not rclpy.ok()


HANGING_TEARDOWN = """
import sys, time
from hitl_policy.nodes import runtime
runtime.SHUTDOWN_LIMIT_S = 1.0

class Stuck:
    def __init__(self):
        from rclpy.node import Node
        self.node = Node("runtime_stuck_teardown")
        print("READY", flush=True)

    def destroy_node(self):  # stands in for a middleware deadlock in rcl_node_fini
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:  # a C-level deadlock would not see the signal either
                pass

sys.exit(runtime.spin(Stuck, ["--ros-args"], "stuck"))
"""


def test_stuck_middleware_teardown_exits_with_the_stacks_instead_of_hanging():
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", HANGING_TEARDOWN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.5)  # into spin
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and took < 15  # bounded by the 1 s watchdog, not by the 60 s sleep
    assert "Timeout" in err and "destroy_node" in err  # faulthandler's dump says where it stuck
