"""The ROS test fixtures of every package (a pytest plugin: the workspace's conftest.py loads it).

- ``ros_imports()``: wraps a test module's ROS imports; without a built workspace the module skips
  with the reason (under ``HITL_REQUIRE_ROS=1``, scripts/run_tests.sh, it fails instead).
- ``lease_domain()``: a ROS_DOMAIN_ID no other test process on this machine holds (a lock file per
  domain), so two graphs never exchange messages (two graphs on one domain and namespace do).
- ``RosGraph``: one leased domain with a private rclpy context, a test node, its executor,
  ``spin_until`` and ``spawn`` (node processes on the same domain, their output in a file).
- Fixtures: ``ros_domain`` (a leased domain, ``ROS_DOMAIN_ID`` set for the test: a graph the runner
  starts inherits it), ``ros_graph`` (a module's ``RosGraph``, ``ROS_DOMAIN_ID`` set for the module)
  and ``ros_node`` (that graph's test node, with the graph's ``spin_until`` / ``spin_for`` / ``domain``).
- ``poll(fn, timeout)``: wait for a condition without spinning anything (a process's output, a file).

rclpy is imported inside the functions: the pure tests of every package run without ROS.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Fast DDS maps domain d to UDP ports 7400 + 250 * d ... + 249. From d = 101 up they reach Linux's
# ephemeral range (32768-60999), where any process's outgoing socket can hold a discovery port first (the
# ROS 2 docs, "About Domain ID": 0-101 on Linux; launch_testing's domain_coordinator leases 1-100).
# 0 is left to manual runs.
DOMAINS = range(1, 101)
LOCK_DIR = Path(tempfile.gettempdir()) / "hitl-ros-domains"
SKIP_HINT = "run scripts/setup.sh and source scripts/env.sh"


@contextlib.contextmanager
def ros_imports() -> Iterator[None]:
    """``with ros_imports(): import rclpy ...`` at a test module's top: an ImportError skips the module
    with its reason, or fails it where HITL_REQUIRE_ROS=1 (a skip there would hide a broken build)."""
    try:
        yield
    except ImportError as exc:
        if os.environ.get("HITL_REQUIRE_ROS") == "1":
            raise
        pytest.skip(f"hitl_msgs/rclpy not importable ({exc}); {SKIP_HINT}", allow_module_level=True)


class DomainLease:
    """A ROS domain held by this process (an exclusive lock on its file) until ``release``."""

    def __init__(self, domain: int, fd: int) -> None:
        self.domain, self._fd = domain, fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock; the file stays for the next lease
            self._fd = -1


def lease_domain() -> DomainLease:
    """A free ROS_DOMAIN_ID, chosen at random among those no test process holds (the lock dies with
    the process, so a killed test run frees its domains)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for domain in random.sample(DOMAINS, len(DOMAINS)):
        fd = os.open(LOCK_DIR / f"{domain}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return DomainLease(domain, fd)
    raise RuntimeError(f"every ROS domain in {DOMAINS} is held by another test process ({LOCK_DIR})")


def spawn(cmd: list[str], **env_vars: str) -> subprocess.Popen:
    """Start ``cmd`` unbuffered (extra environment ``env_vars``), stdout and stderr to ``proc.log``
    (read it with ``output``). Not a pipe: nobody reads a pipe while a test runs, and a node that logs
    a warning per tick fills the pipe's 64 KiB and blocks on its next write, frozen mid-test."""
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the process object)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **env_vars)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def poll(fn: Callable[[], Any], timeout: float, period: float = 0.005) -> Any:
    """``fn()``'s first truthy value within ``timeout`` s (checked at least once), else None."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v or None
        time.sleep(period)


def output(proc: subprocess.Popen, tail: int = 3000) -> str:
    """The last ``tail`` characters the process wrote so far."""
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read()[-tail:]  # type: ignore[attr-defined]


def finish(proc: subprocess.Popen, tail: int = 3000) -> tuple[int, str]:
    """SIGINT if still running, wait (kill after 15 s): (exit code, the output's last ``tail`` characters)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode, output(proc, tail)


def stop(proc: subprocess.Popen, name: str = "node") -> str:
    """``finish`` and assert a clean exit; returns the output's tail."""
    rc, out = finish(proc)
    assert rc == 0, f"{name} did not exit cleanly on SIGINT ({rc}):\n{out}"
    return out


class RosGraph:
    """A private ROS graph for a test: a domain (leased here, or ``domain``: one the caller holds, e.g. the
    ``ros_domain`` fixture's), an rclpy context on it, a test node (``node``, in ``namespace``) and its
    single-threaded executor. ``close()`` (or the ``with`` block's end) destroys the nodes, shuts the
    context down and frees the domain it leased."""

    def __init__(self, name: str = "test", namespace: str = "", domain: int | None = None) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self._lease = lease_domain() if domain is None else DomainLease(domain, -1)
        self.domain = self._lease.domain
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(self.domain))  # for processes on this graph
        self.context = rclpy.Context()
        try:
            rclpy.init(context=self.context, domain_id=self.domain)
        except BaseException:
            self._lease.release()
            raise
        self.executor = SingleThreadedExecutor(context=self.context)
        self._nodes: list[Any] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.node = self.create_node(name, namespace)

    def create_node(self, name: str, namespace: str = "") -> Any:
        """Another node on this graph's context, spun by its executor."""
        import rclpy

        node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self.executor.add_node(node)
        self._nodes.append(node)
        return node

    def spin_until(self, cond: Callable[[], Any], timeout: float, every: Callable[[], Any] | None = None,
                   period: float = 0.05) -> bool:
        """Spin (calling ``every`` first each round) until ``cond()`` holds or ``timeout`` s pass."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if every is not None:
                every()
            self.executor.spin_once(timeout_sec=period)
            if cond():
                return True
        return bool(cond())

    def spin_for(self, seconds: float, every: Callable[[], Any] | None = None, period: float = 0.05) -> None:
        """Spin for ``seconds`` (messages still in flight, a window in which nothing may arrive)."""
        self.spin_until(lambda: False, seconds, every, period)

    def spin_in_thread(self, period: float = 0.02) -> None:
        """Spin the executor in a background thread from now on, until ``close`` (for tests that poll
        what the callbacks record instead of spinning themselves)."""
        def spin() -> None:
            while not self._stopping.is_set():
                self.executor.spin_once(timeout_sec=period)

        self._thread = threading.Thread(target=spin, daemon=True)
        self._thread.start()

    def spawn(self, cmd: list[str], **env_vars: str) -> subprocess.Popen:
        """A process on this graph's domain (see ``spawn``)."""
        return spawn(cmd, ROS_DOMAIN_ID=str(self.domain), **env_vars)

    def close(self) -> None:
        import rclpy

        try:
            self._stopping.set()
            if self._thread is not None:
                # the nodes are destroyed here once the spin thread is out of its wait: destroyed while it
                # waits, rclpy finishes the job in that thread, measured to deadlock in Fast DDS's teardown
                self._thread.join(timeout=10)
            self.executor.shutdown()
            for node in self._nodes:
                node.destroy_node()
            rclpy.try_shutdown(context=self.context)
        finally:
            self._lease.release()

    def __enter__(self) -> RosGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture()
def ros_domain(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A leased ROS domain for one test; ROS_DOMAIN_ID is set to it for the test's duration."""
    lease = lease_domain()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(lease.domain))
    try:
        yield lease.domain
    finally:
        lease.release()


@pytest.fixture(scope="module")
def ros_graph(request: pytest.FixtureRequest) -> Iterator[RosGraph]:
    """The test module's ``RosGraph`` (node named after the module); ROS_DOMAIN_ID is set to its domain
    while the module runs, so every process its tests start joins it."""
    graph = RosGraph(request.module.__name__.rsplit(".", 1)[-1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_DOMAIN_ID", str(graph.domain))
        try:
            yield graph
        finally:
            graph.close()


@pytest.fixture(scope="module")
def ros_node(ros_graph: RosGraph) -> Any:
    """The module graph's test node, carrying ``spin_until``, ``spin_for``, ``domain`` and ``graph``."""
    node = ros_graph.node
    node.graph, node.domain = ros_graph, ros_graph.domain
    node.spin_until, node.spin_for = ros_graph.spin_until, ros_graph.spin_for
    return node
