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
- Bad input never ends a node and never reaches its logic unnoticed: every message is screened first
  (``screen_message``: NaN/inf or a huge number in any field, a header stamp far in the future or the
  past, or older than the last one on that topic from that sender), and an exception raised by a
  subscription callback (wrong array lengths, unknown values: ``RejectedInput`` or any other) is caught.
  Each rejection is counted per topic and kind and logged (the first of each kind always, then at most
  every 2 s with the counts); the counts are ``node.input_errors`` (for a node's status) and one line
  on stderr at shutdown. A node that screens a topic itself (the arbiter, the arm drivers: they hold)
  names it in ``own_input_screening``; raw subscriptions (the recorder) are not screened.
- A node may end the graph's run itself: setting ``node.exit_code`` (e.g. 0 after the last episode)
  ends the spin loop and becomes the process's exit code.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import faulthandler
import functools
import math
import os
import signal
import sys
import traceback
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
MAX_FUTURE_S = 1.0  # a header stamp further ahead of the node's clock is rejected (it defeats staleness checks)
MAX_AGE_S = 60.0  # ... or further behind (not on latched topics, whose last sample may be old)
MAX_ABS = 1e9  # a larger number in any float field is rejected (metres, radians, scores, axes: all far below)
# fields where NaN is legitimate: ros2_control's joint_state_broadcaster fills missing interfaces with NaN
UNCHECKED = {"JointState": ("velocity", "effort")}
SENDER_FIELDS = ("robot_id", "operator_id", "device", "arm_index")  # stamps are ordered per topic and sender


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


def dump_stacks_on_sigusr1() -> bool:
    """``kill -USR1 <pid>`` prints every thread's Python stack on the process's stderr and the node runs
    on: a node that stopped doing its work says where it waits. faulthandler's handler is C code, so it
    answers even while a C call holds the GIL. False where stderr has no file descriptor (a capturing
    test runner) or the platform has no SIGUSR1."""
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    except (AttributeError, OSError, ValueError, RuntimeError):  # io.UnsupportedOperation is both
        return False
    return True


def _arm_shutdown_watchdog() -> bool:
    """Exit 1 with every thread's stack on the process's stderr if teardown outlasts SHUTDOWN_LIMIT_S
    (False where stderr has no file descriptor, e.g. under a capturing test runner)."""
    try:
        faulthandler.dump_traceback_later(SHUTDOWN_LIMIT_S, exit=True, file=sys.__stderr__)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True


class RejectedInput(ValueError):  # noqa: N818 (not an error of the node: of its input)
    """Raised by a subscription callback for a message it will not use (an unknown enum value, a wrong
    length...): counted and reported under its text (the kind is the text up to its first colon)."""


_FIELDS: dict[type, tuple[str, ...] | None] = {}  # message class -> the fields to check (None: not a message)
_SCALARS = (bool, int, str, bytes, bytearray)


def _fields_of(kind: type) -> tuple[str, ...] | None:
    if kind not in _FIELDS:
        get = getattr(kind, "get_fields_and_field_types", None)
        skip = UNCHECKED.get(kind.__name__, ())
        _FIELDS[kind] = None if get is None else tuple(n for n in get() if n not in skip)
    return _FIELDS[kind]


def _array_problem(arr: Any) -> tuple[str, str] | None:
    import numpy as np

    finite = np.isfinite(arr)
    if not finite.all():
        k = int(np.argmin(finite))
        return f"[{k}]", f"non-finite value: {{}} = {arr[k]}"
    k = int(np.argmax(np.abs(arr)))
    return (f"[{k}]", f"huge value: {{}} = {arr[k]:.3g}") if abs(arr[k]) > MAX_ABS else None


def _bad_number(value: Any, depth: int = 0) -> tuple[str, str] | None:
    """(where, what with {} for where) of the first NaN/inf or huge (> MAX_ABS) float, recursively."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            return "", f"non-finite value: {{}} = {value}"
        return ("", f"huge value: {{}} = {value:.3g}") if abs(value) > MAX_ABS else None
    if kind in _SCALARS or value is None:
        return None
    if kind is array.array:
        if value.typecode not in ("f", "d") or not value:
            return None
        import numpy as np

        return _array_problem(np.frombuffer(value, dtype=np.float32 if value.typecode == "f" else np.float64))
    if getattr(value, "dtype", None) is not None:  # numpy: fixed-size arrays
        return _array_problem(value) if value.dtype.kind == "f" and value.size else None
    if depth > 8:
        return None
    if kind is list or kind is tuple:
        for k, item in enumerate(value):
            found = _bad_number(item, depth + 1)
            if found:
                return f"[{k}]{found[0]}", found[1]
        return None
    for name in _fields_of(kind) or ():
        found = _bad_number(getattr(value, name), depth + 1)
        if found:
            return f".{name}{found[0]}", found[1]
    return None


def _number_problem(msg: Any) -> str | None:
    """The first NaN/inf or huge number in a message, named by its field path; None if none."""
    found = _bad_number(msg)
    return found[1].format(found[0].lstrip(".")) if found else None


_ENUMS: dict[type, dict[str, set[int]]] = {}


def _enum_problem(msg: Any) -> str | None:
    """A field whose message type defines constants ``<FIELD>_*`` (``event``: EVENT_START...,
    ``source``: SOURCE_POLICY...) holding none of them; None if none."""
    cls = type(msg)
    if cls not in _ENUMS:
        fields = getattr(msg, "get_fields_and_field_types", dict)()
        names = set(dir(cls)) | set(dir(type(cls)))  # rclpy: the constants are properties of the metaclass
        consts = [(n, getattr(cls, n)) for n in names if n.isupper() and isinstance(getattr(cls, n, None), int)]
        _ENUMS[cls] = {f: {v for n, v in consts if n.startswith(f.upper() + "_")} for f, kind in fields.items()
                       if kind.lstrip("u").startswith("int")}
        _ENUMS[cls] = {f: vals for f, vals in _ENUMS[cls].items() if vals}
    for field_name, values in _ENUMS[cls].items():
        value = getattr(msg, field_name)
        if value not in values:
            return f"unknown value: {field_name} = {value}"
    return None


def screen_message(msg: Any, now_s: float, last_stamps: dict[str, float], topic: str,
                   check_age: bool = True) -> str | None:
    """Why ``msg`` must not reach the node's logic, or None: a NaN/inf or huge number in any field, an
    enumerated field with none of its type's values, a header stamp (0 = none: not checked) more than
    MAX_FUTURE_S ahead of ``now_s`` or (``check_age``) MAX_AGE_S behind it, or older than the last one
    accepted from the same sender on ``topic``."""
    why = _number_problem(msg) or _enum_problem(msg)
    if why:
        return why
    stamp = getattr(getattr(msg, "header", None), "stamp", None)
    if stamp is None:
        return None
    t = int(stamp.sec) + int(stamp.nanosec) * 1e-9
    if t == 0.0:
        return None
    if t - now_s > MAX_FUTURE_S:
        return f"stamp in the future: {t - now_s:+.3f} s from now"
    if check_age and now_s - t > MAX_AGE_S:
        return f"stamp in the past: {t - now_s:+.3f} s from now"
    key = "/".join([topic] + [str(getattr(msg, f)) for f in SENDER_FIELDS if hasattr(msg, f)])
    previous = last_stamps.get(key)
    if previous is not None and t < previous:
        return f"out of order: stamp {previous - t:.3f} s older than the previous one"
    last_stamps[key] = t
    return None


class InputErrors:
    """Rejected input per "topic: kind": messages screen_message refused and exceptions callbacks raised."""

    def __init__(self, logger: Any, clock: Callable[[], float] | None = None) -> None:
        import time

        self.logger = logger
        self.clock = clock or time.time
        self.counts: dict[str, int] = {}
        self.last_stamps: dict[str, float] = {}

    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: the total and the counts per topic and kind ('' when nothing was rejected)."""
        return f"{self.total()} input messages rejected: {self.counts}" if self.counts else ""

    def reject(self, topic: str, why: str) -> None:
        """Count one rejected message and log it (the first of its kind always, then throttled)."""
        key = f"{topic}: {why.split(':')[0]}"
        first = key not in self.counts
        self.counts[key] = self.counts.get(key, 0) + 1
        line = f"{topic} message rejected ({why}); {self.total()} rejected so far: {self.counts}"
        if first:
            self.logger.warning(line)
        else:
            self.logger.warning(line, throttle_duration_sec=2.0)

    def screen(self, topic: str, msg: Any, check_age: bool = True) -> str | None:
        """screen_message with this node's clock and stamps: for a callback that screens its own topic
        (``own_input_screening``) and holds on a rejection; it counts it with ``reject``."""
        return screen_message(msg, self.clock(), self.last_stamps, topic, check_age)

    def wrap(self, topic: str, callback: Callable[..., Any], screen: bool = False,
             check_age: bool = True) -> Callable[..., Any]:
        @functools.wraps(callback)  # the same signature: rclpy passes MessageInfo by the arity
        def guarded(*args: Any) -> Any:
            if screen and args and not isinstance(args[0], (bytes, bytearray)):
                why = screen_message(args[0], self.clock(), self.last_stamps, topic, check_age)
                if why:
                    self.reject(topic, why)
                    return None
            try:
                return callback(*args)
            except RejectedInput as exc:
                self.reject(topic, str(exc))
            except Exception as exc:  # any bad message: counted and reported, never fatal
                self.reject(topic, f"{type(exc).__name__}: {exc}")
            return None

        guarded.hitl_guarded = True  # type: ignore[attr-defined]
        return guarded

    def guard(self, node: Any) -> None:
        """Wrap the callbacks of the node's subscriptions not wrapped yet (screened unless the node
        names the topic in ``own_input_screening``; latched topics without the age check)."""
        from rclpy.qos import DurabilityPolicy

        own = {node.resolve_topic_name(t) for t in getattr(node, "own_input_screening", ())}
        for sub in getattr(node, "subscriptions", ()):
            if not getattr(sub.callback, "hitl_guarded", False):
                latched = getattr(sub.qos_profile, "durability", None) == DurabilityPolicy.TRANSIENT_LOCAL
                sub.callback = self.wrap(sub.topic_name, sub.callback, screen=sub.topic_name not in own,
                                         check_age=not latched)


def run_until_stopped(node: Any, stop: StopRequest) -> None:
    """Spin ``node`` until a stop signal, the context's shutdown or ``node.exit_code`` is set."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    errors = InputErrors(node.get_logger(), clock=lambda: node.get_clock().now().nanoseconds * 1e-9)
    node.input_errors = errors  # a node may report the counts on its status
    seen: list[int] = []
    try:
        while stop.signal is None and rclpy.ok() and getattr(node, "exit_code", None) is None:
            subs = [id(s) for s in node.subscriptions]
            if subs != seen:  # new subscriptions (the recorder adds some, a fleet operator replaces its own)
                errors.guard(node)
                seen = subs
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
    if not IN_PROCESS:
        dump_stacks_on_sigusr1()
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
    except Exception:
        if IN_PROCESS:
            raise
        # a bug, not bad input: its traceback now, before the teardown below, which can hang in the
        # middleware and end the process through the watchdog before Python would print it
        traceback.print_exc()
        sys.stderr.flush()
        code = 1
    finally:
        rejected = getattr(node, "input_errors", None)
        if isinstance(rejected, InputErrors) and rejected.counts:
            print(f"{name}: {rejected.summary()}", file=sys.stderr, flush=True)
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
