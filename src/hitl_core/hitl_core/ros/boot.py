"""Start a node process with its stop signals armed before the node module is imported.

A node module's own imports (numpy, torch, rclpy, MuJoCo: up to seconds on a loaded machine) run
before its ``main``, so a SIGINT that arrived then (a Ctrl-C, a launcher stopping a graph that is still
starting) raised KeyboardInterrupt inside some import: a traceback, and once a process that hung until
SIGKILL. Started through here, the parent-death signal and the stop handler
(hitl_core/ros/runtime.py: ``StopRequest``, exit 0 while starting) are in place first, and only then
is the node module imported.

- ``hitl_run`` starts ``python -m hitl_core.ros.boot MODULE --ros-args ...``;
- the installed executables (``ros2 run`` / ``ros2 launch``) are console scripts that all point at
  ``console``, which finds its node module under the executable's name in the ``hitl_nodes`` entry
  point group (each package's setup.py declares both from one table).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from hitl_core.ros import runtime

NODE_GROUP = "hitl_nodes"


def arm() -> None:
    """Parent-death signal, SIGINT/SIGTERM handling and the SIGUSR1 stack dump, as a node's ``main`` arms
    them (no-op in tests)."""
    runtime.die_with_parent()
    if not runtime.IN_PROCESS:
        runtime.STOP.install()
        runtime.dump_stacks_on_sigusr1()  # `kill -USR1 <pid>`: where a node waits, even while importing


def run(module: str, argv: list[str] | None = None) -> int:
    """Arm the stop signals, then import ``module`` and return its ``main(argv)``."""
    arm()
    return _main_of(module, argv)


def _main_of(module: str, argv: list[str] | None = None) -> int:
    return importlib.import_module(module).main(argv)


def node_module(executable: str) -> str:
    """The node module an installed executable runs (the ``hitl_nodes`` entry point of that name)."""
    from importlib.metadata import entry_points

    found = entry_points(group=NODE_GROUP, name=executable)
    if not found:
        raise SystemExit(f"{executable}: no '{NODE_GROUP}' entry point of that name "
                         "(is the workspace built and install/setup.bash sourced?)")
    return next(iter(found)).value.split(":")[0]


def console() -> int:
    """The installed executables' entry point: run the node module registered under this script's name."""
    arm()  # before the metadata scan too
    return _main_of(node_module(Path(sys.argv[0]).name))


def main() -> int:
    """``python -m hitl_core.ros.boot MODULE [args]``: run MODULE's ``main`` with the signals armed first."""
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print("usage: python -m hitl_core.ros.boot NODE_MODULE [--ros-args ...]", file=sys.stderr)
        return 2
    module = sys.argv.pop(1)
    sys.argv[0] = module
    return run(module)


if __name__ == "__main__":
    sys.exit(main())
