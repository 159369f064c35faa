"""Small helpers shared by the device and arm-adapter nodes (rclpy imported only inside ``spin``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def wants_help(argv: list[str], usage: str) -> bool:
    head = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    if "--help" in head or "-h" in head:
        print(usage)
        return True
    return False


def frame_id_for(arm: str, frame_id: str) -> str:
    """An explicit frame id wins; else the arm profile's base frame; else ''."""
    if frame_id:
        return frame_id
    if arm:
        from hitl_sim.arms import load_arm_profile

        return load_arm_profile(arm).base_frame
    return ""


def stamp_sec(stamp: Any, fallback: float) -> float:
    t = stamp.sec + stamp.nanosec * 1e-9
    return t if t > 0 else fallback


def spin(make_node: Callable[[], Any], argv: list[str], name: str) -> int:
    """Init, spin until SIGINT/SIGTERM, clean up; a setup error is one line on stderr and exit code 2."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=argv)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError, FileNotFoundError, ImportError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            if hasattr(node, "close"):
                node.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
