"""hitl_run: start the deploy (or record-only) graph where ``ros2 launch`` is absent.

Same argument syntax as the launch files (``hitl_run deploy arm:=franka sim:=true task:=lift ...``).
The nodes come from :func:`hitl_bringup.graph.build_graph`, exactly as in deploy.launch.py; each one
runs as ``python -m <module> --ros-args -r __node:=<name> [-r __ns:=<ns>] --params-file <yaml>
[-r from:=to ...]`` in its own process group. Output is streamed with a ``[name]`` prefix; Ctrl-C or
SIGTERM stops every node (the recorder last, so the bag holds everything); a node that dies is
reported with its exit code. A required node (graph.REQUIRED_NODES) that exits ends the graph: exit
code 0 (the simulated arm after its ``episodes``) is a clean end (hitl_run exits 0), any other code
a failure (hitl_run prints the node, its code and its last lines, and exits 1). Every node gets
SIGTERM when hitl_run dies, even by SIGKILL (hitl_core.ros.runtime).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

import yaml
from hitl_core.ros.dds import project_dds_env

from hitl_bringup.graph import REQUIRED_NODES, GraphError, NodeSpec, build_graph, build_record_graph

MODES = {"deploy": build_graph, "record": build_record_graph}
LAST_TO_STOP = ("recorder",)
# Arm drivers start once every other node is up, so that no episode runs while the policy is still
# loading (rclpy nodes log a line when their constructor is done; that line is the readiness signal).
START_LAST = ("sim_arm", "arm_adapter")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """['arm:=franka', 'sim:=true'] -> {'arm': 'franka', 'sim': 'true'} (launch argument syntax)."""
    out: dict[str, str] = {}
    for item in items:
        if ":=" not in item:
            raise GraphError(f"argument {item!r}: expected name:=value")
        key, value = item.split(":=", 1)
        if not key:
            raise GraphError(f"argument {item!r}: empty name")
        out[key] = value
    return out


def params_document(spec: NodeSpec) -> dict:
    """The ROS 2 parameter file for one node (same wildcard form launch_ros writes for dicts)."""
    return {"/**": {"ros__parameters": dict(spec.parameters)}}


def write_params_file(spec: NodeSpec, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prefix = spec.namespace.strip("/").replace("/", "_") + "__" if spec.namespace else ""
    path = folder / f"{prefix}{spec.name}.yaml"
    path.write_text(yaml.safe_dump(params_document(spec), sort_keys=True))
    return path


def base_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def node_command(spec: NodeSpec, params_file: Path | str, python: str = sys.executable) -> list[str]:
    if not spec.module:
        raise GraphError(f"node {spec.name} ({spec.package}/{spec.executable}) has no Python module: "
                         "it needs a full ROS 2 install (use deploy.launch.py there)")
    # through hitl_core.ros.boot: a stop signal during the node module's imports ends it cleanly
    cmd = [python, "-m", "hitl_core.ros.boot", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        cmd += ["-r", f"__ns:={spec.namespace}"]
    cmd += ["--params-file", str(params_file)]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


class GraphRunner:
    """Starts NodeSpecs as processes, streams their output, reports deaths, stops them in order."""

    def __init__(self, specs: list[NodeSpec], workdir: str | Path | None = None, echo: bool = True,
                 log_dir: str | Path | None = None, env: dict[str, str] | None = None,
                 out: IO[str] | None = None) -> None:
        self.specs = specs
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="hitl_run_"))
        self.echo = echo
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"}
        self.env = project_dds_env(self.env)  # a fleet's 40+ processes must all find each other
        self.out = out or sys.stdout
        self.procs: dict[str, subprocess.Popen] = {}
        self.lines: dict[str, int] = {}  # output lines seen per node
        self.tails: dict[str, deque[str]] = {}  # each node's last output lines
        self.reported: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.commands: dict[str, list[str]] = {}
        self.skipped: list[NodeSpec] = []
        # a node's key: its name, or <namespace>/<name> when names repeat (a fleet's robot graphs)
        self._by_fqn = len({s.name for s in specs}) < len(specs)

    def node_key(self, spec: NodeSpec) -> str:
        return spec.fqn.lstrip("/") if self._by_fqn else spec.name

    def _say(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def prepare(self) -> dict[str, list[str]]:
        """Write the parameter files; the command line of every node (nothing is started).

        Nodes without a Python module (the standard `joy` driver) cannot run here: they are left
        out with a notice saying how to start them."""
        folder = self.workdir / "params"
        self.skipped = [s for s in self.specs if not s.module]
        for s in self.skipped:
            self._say(f"[runner] not starting {s.fqn}: no Python module; on a full install run "
                      f"`ros2 run {s.package} {s.executable} --ros-args -r __ns:={s.namespace or '/'}`")
        self.specs = [s for s in self.specs if s.module]
        self.commands = {self.node_key(s): node_command(s, write_params_file(s, folder)) for s in self.specs}
        return self.commands

    def start(self, start_last: tuple[str, ...] = START_LAST, ready_timeout: float = 180.0,
              settle: float = 2.0) -> None:
        """Start every node; those in ``start_last`` only after the others printed their first line
        (or exited, or ``ready_timeout`` passed) plus ``settle`` seconds for DDS discovery."""
        if not self.commands:
            self.prepare()
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        first = [s for s in self.specs if s.name not in start_last]
        last = [s for s in self.specs if s.name in start_last]
        self._start(first)
        if last and first:
            t_end = time.monotonic() + ready_timeout
            keys = [self.node_key(s) for s in first]
            waiting = lambda: [k for k in keys  # noqa: E731
                               if not self.lines.get(k) and self.procs[k].poll() is None]
            while waiting() and time.monotonic() < t_end:
                time.sleep(0.1)
            if waiting() and self.echo:
                self._say(f"[runner] no output yet from {waiting()} after {ready_timeout:.0f} s: "
                          "starting the arm driver anyway")
            time.sleep(settle)
        self._start(last)

    def _start(self, specs: list[NodeSpec]) -> None:
        width = max(len(self.node_key(s)) for s in self.specs)
        for spec in specs:
            key = self.node_key(spec)
            proc = subprocess.Popen(self.commands[key], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                    bufsize=1, env=self.env, start_new_session=True)
            self.procs[key] = proc
            log = open(self.log_dir / f"{key.replace('/', '__')}.log", "w") if self.log_dir else None  # noqa: SIM115
            t = threading.Thread(target=self._pump, args=(key, width, proc, log), daemon=True)
            t.start()
            self._threads.append(t)
            if self.echo:
                self._say(f"[runner] started {spec.fqn} (pid {proc.pid})")

    def _pump(self, name: str, width: int, proc: subprocess.Popen, log: IO[str] | None) -> None:
        assert proc.stdout is not None
        tail = self.tails.setdefault(name, deque(maxlen=5))
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            self.lines[name] = self.lines.get(name, 0) + 1
            if log:
                log.write(line + "\n")
                log.flush()
            if self.echo:
                self._say(f"[{name.ljust(width)}] {line}")
        if log:
            log.close()

    def dead(self) -> dict[str, int]:
        """Nodes that have exited (name -> exit code)."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def report_deaths(self) -> dict[str, int]:
        """Newly exited nodes, each reported once."""
        new = {n: rc for n, rc in self.dead().items() if n not in self.reported}
        for name, rc in new.items():
            self.reported.add(name)
            self._say(f"[runner] node {name} exited with code {rc}")
        return new

    def wait(self, until: Callable[[], bool] | None = None, timeout: float | None = None,
             stop_on_death: tuple[str, ...] = ()) -> bool:
        """Block until ``until()`` is true (True), a node in stop_on_death or every node exits, or the
        timeout passes (False)."""
        t_end = None if timeout is None else time.monotonic() + timeout
        while True:
            self.report_deaths()
            if until is not None and until():
                return True
            dead = self.dead()
            stop_now = any(n in stop_on_death or base_name(n) in stop_on_death for n in dead)
            if stop_now or (self.procs and len(dead) == len(self.procs)):
                return False
            if t_end is not None and time.monotonic() > t_end:
                return False
            time.sleep(0.2)

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def _stop_group(self, names: list[str], grace: float) -> None:
        procs = [self.procs[n] for n in names if n in self.procs]
        for sig, wait_s in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            for p in procs:
                self._signal(p, sig)
            t_end = time.monotonic() + wait_s
            while time.monotonic() < t_end and any(p.poll() is None for p in procs):
                time.sleep(0.05)
            if all(p.poll() is not None for p in procs):
                break

    def stop(self, grace: float = 5.0) -> dict[str, int]:
        """Stop every node (the recorder last); returns the exit codes."""
        first = [n for n in self.procs if base_name(n) not in LAST_TO_STOP]
        last = [n for n in self.procs if base_name(n) in LAST_TO_STOP]
        self._stop_group(first, grace)
        self._stop_group(last, grace * 2)
        for t in self._threads:
            t.join(timeout=2.0)
        self.reported.update(self.procs)
        return {n: p.returncode for n, p in self.procs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hitl_run", description="Start the deploy graph (or the recorder alone) without ros2 launch.",
        epilog="example: hitl_run deploy arm:=franka sim:=true task:=lift policy:=diffusion "
               "checkpoint:=runs/demo/policy.pt threshold:=0.4 record:=true namespace:=robot_0")
    parser.add_argument("mode", choices=sorted(MODES),
                        help="deploy: the whole graph; record: the recorder only")
    parser.add_argument("arguments", nargs="*", help="name:=value (as in deploy.launch.py)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the command lines and parameters, start nothing")
    parser.add_argument("--log-dir", default=None, help="also write each node's output to <dir>/<node>.log")
    ns = parser.parse_args(argv)
    # handled from here on, before the graph is built (seconds on a loaded machine): a SIGINT then, in a
    # process started with SIGINT ignored (a non-interactive shell's background job), was lost
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        stopping.set()

    if not ns.dry_run:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    try:
        specs = MODES[ns.mode](**parse_assignments(ns.arguments))
        runner = GraphRunner(specs, log_dir=ns.log_dir)
        commands = runner.prepare()
    except GraphError as exc:
        print(f"hitl_run: {exc}", file=sys.stderr)
        return 2
    if ns.dry_run:
        for spec in runner.specs:
            print(" ".join(commands[runner.node_key(spec)]))
            print("    " + yaml.safe_dump(spec.parameters, default_flow_style=True, sort_keys=True).strip())
        return 0
    if stopping.is_set():  # stopped before anything started
        return 0
    fleet = any(s.name == "fleet_allocator" for s in specs)
    if fleet:  # node output to files; the terminal shows the live fleet table (fleet_table.py)
        runner.echo = False
        runner.log_dir = Path(ns.log_dir or runner.workdir / "logs")
        print(f"hitl_run: fleet of {sum(s.name == 'arbiter' for s in specs)} robots; node logs in {runner.log_dir}")
    return run_graph(runner, stopping, fleet_table=fleet)


def ended_by(runner: GraphRunner) -> dict[str, int]:
    """The required nodes that have exited (key -> code; fleet keys are robot_<i>/<name>)."""
    return {n: rc for n, rc in runner.dead().items() if base_name(n) in REQUIRED_NODES}


def run_graph(runner: GraphRunner, stopping: threading.Event, timeout: float | None = None,
              fleet_table: bool = False) -> int:
    """Start, run until a signal or a required node exits, stop; the exit code (0 clean, 1 failed)."""
    required = tuple(n for n in REQUIRED_NODES if any(s.name == n for s in runner.specs))
    runner.start()
    table_stop, table = threading.Event(), None
    if fleet_table:
        from hitl_bringup.fleet_table_node import watch

        table = threading.Thread(target=watch, args=(table_stop,), kwargs={"dead": runner.report_deaths}, daemon=True)
        table.start()
    try:
        runner.wait(until=lambda: stopping.is_set() or bool(ended_by(runner)), timeout=timeout,
                    stop_on_death=required)
    finally:
        table_stop.set()
        if table is not None:
            table.join(timeout=5.0)
    ended = {} if stopping.is_set() else ended_by(runner)
    for name, rc in ended.items():
        if rc == 0:
            runner._say(f"[runner] {name} finished (exit 0): stopping the graph")
    running = set(runner.procs) - set(runner.dead())
    codes = runner.stop()
    failed = {n: rc for n, rc in ended.items() if rc != 0}
    for name, rc in failed.items():
        last = "\n    ".join(runner.tails.get(name, ["(no output)"]))
        print(f"hitl_run: required node {name} exited with code {rc}; its last lines:\n    {last}",
              file=sys.stderr, flush=True)
    # a node that did not end cleanly when stopped (a crash or a traceback in its teardown, or killed
    # after the grace period) is a failure too: it may have cut its output short
    unclean = {n: codes[n] for n in sorted(running) if codes.get(n) != 0}
    for name, rc in unclean.items():
        last = "\n    ".join(runner.tails.get(name, ["(no output)"]))
        print(f"hitl_run: node {name} did not stop cleanly (exit code {rc}); its last lines:\n    {last}",
              file=sys.stderr, flush=True)
    if failed or unclean:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
