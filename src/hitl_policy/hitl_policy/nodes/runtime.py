"""What every hitl node's ``main`` does around its node class: ``--help`` without starting ROS, and
init / spin / clean shutdown on SIGINT or SIGTERM. rclpy is imported only inside ``spin``."""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Callable
from typing import Any

SETUP_ERRORS: tuple[type[BaseException], ...] = (ValueError, RuntimeError, FileNotFoundError, ImportError)
SHUTDOWN_LIMIT_S = 4.0  # destroy_node + context shutdown; under the 5 s hitl_run and ros2 launch wait


def parse_mapping_param(text: str, name: str) -> dict:
    """A string parameter holding a YAML/JSON mapping ('' or '{}' = none); ValueError names ``name``."""
    import yaml

    if not text or not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{name} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}: {text!r}")
    return value


def wants_help(argv: list[str], usage: str) -> bool:
    """True (after printing ``usage``) when --help/-h comes before any --ros-args."""
    head = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    if "--help" in head or "-h" in head:
        print(usage)
        return True
    return False


def _arm_shutdown_watchdog() -> bool:
    """Exit 1 with every thread's stack on the process's stderr if teardown outlasts SHUTDOWN_LIMIT_S
    (False where stderr has no file descriptor, e.g. under a capturing test runner)."""
    try:
        faulthandler.dump_traceback_later(SHUTDOWN_LIMIT_S, exit=True, file=sys.__stderr__)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True


def spin(make_node: Callable[[], Any], argv: list[str], name: str,
         errors: tuple[type[BaseException], ...] = SETUP_ERRORS) -> int:
    """Init, spin until SIGINT/SIGTERM, clean up (the node's ``close()`` first, if it has one).

    A setup error of the given types is one line on stderr and exit code 2. The same error raised by a
    callback after SIGINT/SIGTERM has shut the context down (a publish racing the teardown, e.g.
    pybind11's "Unable to convert call argument") is part of a clean shutdown: exit 0.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=argv)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        if node is not None and not rclpy.ok():
            return 0  # finally: still cleans up
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None and hasattr(node, "close"):
            node.close()  # our own cleanup (the recorder finishes its bag here): never cut short
        # The middleware teardown can deadlock (seen in a test process: Fast DDS destroying the
        # participant while a discovery callback for a peer exiting at the same moment still runs,
        # GIL held). faulthandler's watchdog is a C thread: it prints every thread's stack and exits 1
        # before the launcher's SIGKILL, so a stuck shutdown is bounded and says where it stuck.
        watchdog = _arm_shutdown_watchdog()
        try:
            if node is not None:
                node.destroy_node()
            if rclpy.ok():
                rclpy.try_shutdown()
        finally:
            if watchdog:
                faulthandler.cancel_dump_traceback_later()
    return 0
