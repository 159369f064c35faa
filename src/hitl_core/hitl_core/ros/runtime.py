"""What every hitl node's ``main`` does around its node class: ``--help`` without starting ROS, and
init / spin / clean shutdown on SIGINT or SIGTERM. rclpy is imported only inside ``spin``.

Shutdown (tests: src/hitl_core/test/test_runtime.py):
- SIGINT and SIGTERM are handled here, not by rclpy: the first one ends the spin loop, later ones
  (a terminal's Ctrl-C reaches the whole process group and ``ros2 launch`` forwards another) are
  ignored, so the node's ``close()`` (the recorder closes its bag there) is never cut short and no
  KeyboardInterrupt traceback is printed. A process started with SIGINT ignored (a non-interactive
  shell's background job) still stops on SIGINT.
- The parent's death (launcher or runner SIGKILLed) delivers SIGTERM (Linux PR_SET_PDEATHSIG): no
  node outlives its launcher, so the arbiter and the arm driver stop commanding within ~0.1 s.
- Bad input never ends a node: an exception raised by a subscription callback (a message with wrong
  array lengths, NaN, unknown values...) is caught, counted per topic and kind, and logged (the first
  of each kind always, then at most every 2 s with the counts); the node goes on with the next message.
- A node may end the graph's run itself: setting ``node.exit_code`` (e.g. 0 after the last episode)
  ends the spin loop and becomes the process's exit code.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

SETUP_ERRORS: tuple[type[BaseException], ...] = (ValueError, RuntimeError, FileNotFoundError, ImportError)
SHUTDOWN_LIMIT_S = 4.0  # destroy_node + context shutdown; under the 5 s hitl_run and ros2 launch wait
SPIN_PERIOD_S = 0.05  # the spin loop checks for a stop request at least this often
# True where spin runs inside a longer-lived process (tests): the signal handlers are restored and spin
# returns; else the process ends in spin (os._exit after flushing: the interpreter's final garbage
# collection of torch & co. took 3-5 s on a loaded machine, past ros2 launch's 5 s SIGINT grace)
IN_PROCESS = False
_PR_SET_PDEATHSIG = 1


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
    """True (after printing ``usage``) when --help/-h comes before any --ros-args.

    Every node's ``main`` calls this first, before its heavy imports (torch: seconds). When the node
    is going to start, it also arms the parent-death signal (a launcher killed while the node still
    loads takes it along) and the signal handlers: a SIGINT/SIGTERM while the node is still starting
    ends the process at once with exit 0 and no traceback (there is nothing to clean up yet)."""
    die_with_parent()
    head = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    if "--help" in head or "-h" in head:
        print(usage)
        return True
    if not IN_PROCESS:
        STOP.install()
    return False


class StopRequest:
    """Set by the first SIGINT/SIGTERM; later signals are only counted. While ``starting`` (imports,
    model loading: nothing to clean up yet) the first one ends the process at once, exit 0."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.repeats = 0
        self.starting = True

    def __call__(self, signum: int, frame: Any) -> None:
        if self.signal is None:
            self.signal = signum
            if self.starting:
                _exit_now(0, force=True)
        else:
            self.repeats += 1

    def install(self) -> dict[int, Any]:
        """Handle SIGINT and SIGTERM; returns the previous handlers."""
        return {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}


_FIRST_PARENT: list[int] = []  # the parent pid when die_with_parent was first called


STOP = StopRequest()  # the process's stop request (wants_help installs it before the heavy imports)


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` when the parent process dies (Linux; False elsewhere). Also
    sends it at once if the parent already changed since the first call (it died in between)."""
    if not _FIRST_PARENT:
        _FIRST_PARENT.append(os.getppid())
    parent = _FIRST_PARENT[0]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return True


def _arm_shutdown_watchdog() -> bool:
    """Exit 1 with every thread's stack on the process's stderr if teardown outlasts SHUTDOWN_LIMIT_S
    (False where stderr has no file descriptor, e.g. under a capturing test runner)."""
    try:
        faulthandler.dump_traceback_later(SHUTDOWN_LIMIT_S, exit=True, file=sys.__stderr__)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True


class InputErrors:
    """Counts of the exceptions subscription callbacks raised, per "topic: kind"."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.counts: dict[str, int] = {}

    def wrap(self, topic: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(callback)  # the same signature: rclpy passes MessageInfo by the arity
        def guarded(*args: Any) -> Any:
            try:
                return callback(*args)
            except Exception as exc:  # any bad message: counted and reported, never fatal
                key = f"{topic}: {type(exc).__name__}"
                first = key not in self.counts
                self.counts[key] = self.counts.get(key, 0) + 1
                line = (f"{topic} message rejected ({type(exc).__name__}: {exc}); "
                        f"{sum(self.counts.values())} rejected so far: {self.counts}")
                if first:
                    self.logger.warning(line)
                else:
                    self.logger.warning(line, throttle_duration_sec=2.0)
                return None

        guarded.hitl_guarded = True  # type: ignore[attr-defined]
        return guarded

    def guard(self, node: Any) -> None:
        """Wrap the callbacks of the node's subscriptions not wrapped yet."""
        for sub in getattr(node, "subscriptions", ()):
            if not getattr(sub.callback, "hitl_guarded", False):
                sub.callback = self.wrap(sub.topic_name, sub.callback)


def run_until_stopped(node: Any, stop: StopRequest) -> None:
    """Spin ``node`` until a stop signal, the context's shutdown or ``node.exit_code`` is set."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    errors = InputErrors(node.get_logger())
    n_subs = -1
    try:
        while stop.signal is None and rclpy.ok() and getattr(node, "exit_code", None) is None:
            subs = list(node.subscriptions)
            if len(subs) != n_subs:  # new subscriptions (the recorder adds some)
                errors.guard(node)
                n_subs = len(subs)
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    finally:
        executor.shutdown(timeout_sec=0.5)


def spin(make_node: Callable[[], Any], argv: list[str], name: str,
         errors: tuple[type[BaseException], ...] = SETUP_ERRORS) -> int:
    """Init, spin until SIGINT/SIGTERM (or ``node.exit_code``), clean up (the node's ``close()``
    first, if it has one). Returns the exit code.

    A setup error of the given types is one line on stderr and exit code 2. The same error raised by a
    callback after the context was shut down (a publish racing the teardown, e.g. pybind11's "Unable
    to convert call argument") is part of a clean shutdown: exit 0.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    stop = StopRequest() if IN_PROCESS else STOP
    previous = stop.install()
    die_with_parent()
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    try:
        node = make_node()
        stop.starting = False  # from here a signal ends the spin loop and close() runs whole
        if stop.signal is None:
            run_until_stopped(node, stop)
        code = int(getattr(node, "exit_code", None) or 0)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        if node is None or (rclpy.ok() and stop.signal is None):
            print(f"{name}: {exc}", file=sys.stderr)
            code = 2
        # else: raised while the context shut down: a clean exit (finally still cleans up)
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
            if IN_PROCESS:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    if not IN_PROCESS:
        _exit_now(code)
    return code


def _exit_now(code: int, force: bool = False) -> None:
    """End the process at once (stdio flushed), unless coverage wants its atexit hook (``force``:
    even then)."""
    if os.environ.get("COVERAGE_PROCESS_START") and not force:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
