"""What the console page shows, per robot, as plain data (pure: the node feeds it from ROS messages).

Thread-safe: ROS callbacks update it, the web server's thread takes ``snapshot()`` dicts (JSON-ready).
``version`` increases on every change, and ``on_change`` (if set) is called after each update, so the
server can push a help request or a control-state change to the page at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hitl_core.control_source import ControlReason, ControlSource

from hitl_teleop.arbiter.types import HelpReason

SOURCE_NAMES = tuple(s.name for s in ControlSource)
REASON_NAMES = tuple(r.name for r in ControlReason)
HELP_REASONS = tuple(r.name for r in HelpReason)
HISTORY_S = 60.0


def _name(names: tuple[str, ...], i: int) -> str:
    return names[i] if 0 <= i < len(names) else str(i)


@dataclass
class RobotView:
    robot_id: str
    control: dict[str, Any] = field(default_factory=dict)
    help: dict[str, Any] = field(default_factory=dict)
    scores: deque = field(default_factory=deque)        # (t, score, threshold), the last HISTORY_S
    ee: list[list[float]] = field(default_factory=list)  # per end effector: x, y, z, yaw, gripper
    trail: deque = field(default_factory=lambda: deque(maxlen=200))
    scene: list[dict[str, Any]] = field(default_factory=list)
    image: dict[str, Any] | None = None                 # {"t", "width", "height", "jpeg_b64"}
    episodes_ended: int = 0
    successes: int = 0
    failures: int = 0
    last_event: str = ""

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "robot_id": self.robot_id, "control": self.control, "help": self.help,
            "scores": [[round(t - now, 3), s, th] for t, s, th in self.scores],
            "ee": self.ee, "trail": [list(p) for p in self.trail], "scene": self.scene, "image": self.image,
            "episodes_ended": self.episodes_ended, "successes": self.successes, "failures": self.failures,
            "last_event": self.last_event,
        }


class ConsoleState:
    def __init__(self, robots: list[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.robots = {r: RobotView(r) for r in robots}
        self.fleet: dict[str, Any] = {"seen": False, "assignments": {}, "waiting": []}
        self.operators: dict[str, dict[str, Any]] = {}   # operator id -> {"robot", "connected"}
        self.version = 0
        self.on_change: Callable[[], None] | None = None
        self.log: deque = deque(maxlen=50)

    def _changed(self) -> None:
        self.version += 1
        cb = self.on_change
        if cb is not None:
            cb()

    def robot(self, robot_id: str) -> RobotView:
        if robot_id not in self.robots:
            raise KeyError(f"unknown robot {robot_id!r}")
        return self.robots[robot_id]

    # ------------------------------------------------------------------- updates (ROS side)
    def on_control(self, robot_id: str, *, source: int, reason: int, reason_text: str, operator_id: str,
                   episode: int, step: int, holding: bool, help_requested: bool, uncertainty: float,
                   threshold: float) -> None:
        with self._lock:
            v = self.robot(robot_id)
            before = (v.control.get("source"), v.control.get("reason"), v.control.get("help_requested"),
                      v.control.get("holding"), v.control.get("operator_id"))
            v.control = {"source": _name(SOURCE_NAMES, source), "reason": _name(REASON_NAMES, reason),
                         "reason_text": reason_text, "operator_id": operator_id, "episode": int(episode),
                         "step": int(step), "holding": bool(holding), "help_requested": bool(help_requested),
                         "uncertainty": float(uncertainty), "threshold": float(threshold), "t": self._clock()}
            after = (v.control["source"], v.control["reason"], v.control["help_requested"], v.control["holding"],
                     v.control["operator_id"])
            if before != after:
                self.log.append(f"{robot_id}: {after[0]} ({after[1]}) {reason_text}")
        self._changed()

    def on_help(self, robot_id: str, *, active: bool, priority: float, uncertainty: float, reason: int) -> None:
        with self._lock:
            v = self.robot(robot_id)
            was = bool(v.help.get("active"))
            v.help = {"active": bool(active), "priority": float(priority), "uncertainty": float(uncertainty),
                      "reason": _name(HELP_REASONS, reason), "t": self._clock()}
            if active and not was:
                self.log.append(f"{robot_id}: help requested ({v.help['reason']}, priority {priority:.3f})")
        self._changed()

    def on_uncertainty(self, robot_id: str, score: float, threshold: float) -> None:
        now = self._clock()
        with self._lock:
            v = self.robot(robot_id)
            v.scores.append((now, float(score), float(threshold)))
            while v.scores and v.scores[0][0] < now - HISTORY_S:
                v.scores.popleft()
        self._changed()

    def on_observation(self, robot_id: str, ee: list[list[float]]) -> None:
        with self._lock:
            v = self.robot(robot_id)
            v.ee = [[round(float(x), 4) for x in row] for row in ee]
            if ee:
                v.trail.append(tuple(round(float(x), 4) for x in ee[0][:3]))
        self._changed()

    def on_scene(self, robot_id: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.robot(robot_id).scene = items
        self._changed()

    def on_image(self, robot_id: str, width: int, height: int, jpeg_b64: str) -> None:
        with self._lock:
            self.robot(robot_id).image = {"t": self._clock(), "width": width, "height": height, "jpeg_b64": jpeg_b64}
        self._changed()

    def on_episode_event(self, robot_id: str, *, episode: int, event: int, success: bool, failed: bool,
                         note: str = "") -> None:
        with self._lock:
            v = self.robot(robot_id)
            if event == 1:  # END
                v.episodes_ended += 1
                v.successes += int(bool(success))
                v.failures += int(not success)
                v.last_event = f"episode {episode} ended: {'success' if success else 'failure'}"
            elif event == 0:
                v.trail.clear()
                v.last_event = f"episode {episode} started"
            elif event == 2:
                v.last_event = f"episode {episode}: hard reset"
            if note:
                v.last_event += f" ({note})"
        self._changed()

    def on_fleet(self, assignments: dict[str, str], waiting: list[str]) -> None:
        with self._lock:
            self.fleet = {"seen": True, "assignments": dict(assignments), "waiting": list(waiting)}
        self._changed()

    def set_operator(self, operator_id: str, robot: str | None, connected: bool) -> None:
        with self._lock:
            self.operators[operator_id] = {"robot": robot, "connected": connected}
        self._changed()

    def note(self, text: str) -> None:
        with self._lock:
            self.log.append(text)
        self._changed()

    # ----------------------------------------------------------------------- reading
    def assignments(self) -> tuple[dict[str, str], bool]:
        with self._lock:
            return dict(self.fleet["assignments"]), bool(self.fleet["seen"])

    def open_robots(self, operator_id: str) -> list[str]:
        """Robots an operator may answer without a fleet: asking for help, or already in its hands."""
        with self._lock:
            return [r for r, v in self.robots.items()
                    if v.control.get("help_requested") or v.help.get("active")
                    or (v.control.get("source") == "HUMAN" and v.control.get("operator_id") == operator_id)]

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            return {"version": self.version, "robots": [v.to_dict(now) for v in self.robots.values()],
                    "fleet": dict(self.fleet), "operators": dict(self.operators), "log": list(self.log)[-12:]}
