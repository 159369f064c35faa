"""A node module's ``main`` in one line, and its ROS imports made optional (--help needs no ROS).

A node module (e.g. src/hitl_teleop/hitl_teleop/nodes/joy_teleop_node.py)::

    Node = object  # the base class while ROS is missing (--help and importing the module need no ROS)
    ROS = RosImports()
    with ROS:
        from rclpy.node import Node
        from hitl_msgs.msg import TeleopCommand

    class JoyTeleopNode(Node): ...

    def main(args=None) -> int:
        return run_node(JoyTeleopNode, args, USAGE, "joy_teleop_node", ROS)

What ``run_node`` does around the node class (signals, shutdown, bad input): hitl_core/ros/runtime.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from hitl_core.ros.runtime import SETUP_ERRORS, spin, wants_help


class RosImports:
    """``with ROS:`` around a node module's ROS imports. An ImportError (workspace not built or not
    sourced) is kept in ``error`` (the first one, where several blocks share the object) instead of
    raised: the module still imports and answers --help; ``run_node`` raises it when the node starts."""

    def __init__(self) -> None:
        self.error: ImportError | None = None

    def __enter__(self) -> RosImports:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if kind is not None and issubclass(kind, ImportError):
            self.error = self.error or exc  # type: ignore[assignment]
            return True
        return False


def run_node(make_node: Callable[[], Any], args: list[str] | None, usage: str, name: str,
             ros: RosImports | None = None,
             errors: tuple[type[BaseException], ...] | Callable[[], tuple[type[BaseException], ...]] = SETUP_ERRORS,
             ) -> int:
    """A node's whole ``main``: ``--help`` (``usage``, before any ROS import), else the module's ROS
    import error if there was one, else ``spin``. ``errors`` may be a function returning them (called
    only when the node starts: e.g. an exception class whose module imports torch)."""
    argv = list(sys.argv[1:] if args is None else args)
    if wants_help(argv, usage):
        return 0
    if ros is not None and ros.error is not None:
        raise ros.error
    return spin(make_node, argv, name, errors() if callable(errors) else errors)
