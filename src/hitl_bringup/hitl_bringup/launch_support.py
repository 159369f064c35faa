"""What deploy.launch.py and record.launch.py share (imported only by them: needs launch / launch_ros).

- every argument declared with its default and description (graph.argument_descriptions);
- ``<node>.<param>:=value`` overrides passed to the graph builder (typed there), as the runner does;
- an unknown argument is an error that lists the valid ones (ros2 launch exits 1);
- a required node (graph.REQUIRED_NODES) that exits ends the launch: exit code 0 (the arm driver
  finished its ``episodes``) shuts down cleanly, any other code raises, so ``ros2 launch`` prints the
  node, its code and the reason and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.events.process import ProcessExited
from launch_ros.actions import Node

from hitl_bringup.graph import REQUIRED_NODES, GraphError, NodeSpec, argument_descriptions

# launch configurations the launch system itself reads (ExecuteLocal's shutdown escalation)
LAUNCH_OWN = ("sigterm_timeout", "sigkill_timeout")


class RequiredNodeExitError(RuntimeError):
    """A node the graph cannot run without exited with a non-zero code."""


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def split_arguments(given: dict[str, str], declared: list[str]) -> dict[str, str]:
    """The declared arguments and ``<node>.<param>`` overrides; GraphError naming every valid
    argument for anything else."""
    unknown = sorted(k for k in given if k not in declared and "." not in k and k not in LAUNCH_OWN)
    if unknown:
        raise GraphError(f"unknown launch argument(s) {unknown}; valid: {sorted(declared)} "
                         "or <node>.<param>:=value")
    return {k: v for k, v in given.items() if k in declared or "." in k}


def _on_exit(name: str) -> Callable[[ProcessExited, LaunchContext], list | None]:
    def handler(event: ProcessExited, context: LaunchContext) -> list | None:
        if context.is_shutdown:
            return None  # stopped by the shutdown itself
        if event.returncode == 0:
            return [Shutdown(reason=f"{name} finished (exit 0): stopping the graph")]
        raise RequiredNodeExitError(f"required node {name} exited with code {event.returncode} "
                                 f"(its last lines above say why): stopping the graph")
    return handler


def launch_nodes(specs: list[NodeSpec]) -> list[Node]:
    return [
        Node(package=s.package, executable=s.executable, name=s.name, namespace=s.namespace or None,
             parameters=[s.parameters], remappings=list(s.remappings), output="screen",
             on_exit=_on_exit(s.name) if s.name in REQUIRED_NODES else None)
        for s in specs
    ]


def describe(build: Callable[..., list[NodeSpec]], defaults: dict[str, Any]) -> LaunchDescription:
    """The launch description: declared arguments + the nodes ``build(**arguments)`` returns."""
    help_text = argument_descriptions()
    declared = [DeclareLaunchArgument(name, default_value=_text(default), description=help_text.get(name, ""))
                for name, default in defaults.items()]

    def nodes(context: LaunchContext, *args: Any, **kwargs: Any) -> list[Node]:
        values = split_arguments(dict(context.launch_configurations), list(defaults))
        return launch_nodes(build(**values))

    return LaunchDescription([*declared, OpaqueFunction(function=nodes)])
