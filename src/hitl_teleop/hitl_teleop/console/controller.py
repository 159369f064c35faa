"""The console's operators: requests from their pages -> TeleopSamples per robot (pure, no rclpy).

``handle`` runs a page's request (input, take over, hand back, pause, reset) and returns the samples
to publish at once (a click should not wait for the next tick); ``tick`` returns the samples of every
connected operator for the node's publishing timer. ``publish`` callbacks get (robot, sample).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hitl_teleop.console.session import RefusedError, Session, SessionConfig
from hitl_teleop.console.state import ConsoleState
from hitl_teleop.devices.common import TeleopSample

Publish = Callable[[str, TeleopSample], None]


class ConsoleController:
    def __init__(self, state: ConsoleState, publish: Publish, clock: Callable[[], float],
                 frame_id: str = "", input_timeout_s: float = 0.5) -> None:
        self.state = state
        self.publish = publish
        self.clock = clock
        self.frame_id = frame_id
        self.input_timeout_s = input_timeout_s
        self.sessions: dict[str, Session] = {}
        self.connections: dict[str, int] = {}
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------- sessions
    def connect(self, operator_id: str) -> None:
        with self._lock:
            if operator_id not in self.sessions:
                self.sessions[operator_id] = Session(SessionConfig(operator_id, self.frame_id,
                                                                   self.input_timeout_s))
            self.connections[operator_id] = self.connections.get(operator_id, 0) + 1
            self.state.set_operator(operator_id, self.sessions[operator_id].taken_over, True)

    def disconnect(self, operator_id: str) -> None:
        """Last page of this operator closed: its input is released and nothing more is published for
        it (the arbiter's device watchdog holds a robot it was driving). Its take-over stays latched,
        so reopening the page resumes it."""
        with self._lock:
            self.connections[operator_id] = max(0, self.connections.get(operator_id, 0) - 1)
            if self.connections[operator_id] == 0 and operator_id in self.sessions:
                self.sessions[operator_id].release_all()
                self.state.set_operator(operator_id, self.sessions[operator_id].taken_over, False)

    def _driven_by_others(self, operator_id: str) -> set[str]:
        return {s.taken_over for op, s in self.sessions.items() if op != operator_id and s.taken_over}

    def target(self, operator_id: str) -> str | None:
        with self._lock:
            s = self.sessions.get(operator_id)
            if s is None:
                return None
            assignments, fleet = self.state.assignments()
            return s.target(assignments, fleet, self.state.open_robots(operator_id),
                            self._driven_by_others(operator_id))

    def whoami(self, operator_id: str) -> dict[str, Any]:
        s = self.sessions.get(operator_id)
        return {"operator_id": operator_id, "target": self.target(operator_id),
                "taken_over": s.taken_over if s else None}

    # ------------------------------------------------------------------------ requests
    def handle(self, operator_id: str, request: dict[str, Any]) -> str:
        """Run one request of ``operator_id``'s page; returns a one-line acknowledgement.
        Raises RefusedError (shown on the page) for a request the operator may not make."""
        kind = str(request.get("type", ""))
        robot = request.get("robot")
        robot = str(robot) if robot else None
        now = self.clock()
        with self._lock:
            s = self.sessions.get(operator_id)
            if s is None:
                raise RefusedError("not connected")
            if robot is not None and robot not in self.state.robots:
                raise RefusedError(f"unknown robot {robot!r}")
            assignments, fleet = self.state.assignments()
            others = self._driven_by_others(operator_id)
            if kind == "input":
                keys = [str(k) for k in request.get("keys") or []][:32]
                axes = [float(a) for a in request.get("axes") or []][:8]
                buttons = [float(b) for b in request.get("buttons") or []][:20]
                target = s.target(assignments, fleet, self.state.open_robots(operator_id), others)
                driving = bool(keys or any(abs(a) > 0.1 for a in axes) or any(b > 0.5 for b in buttons))
                if robot is not None and robot != target and driving:
                    s.set_input(None, [], [], [], now)
                    raise RefusedError(f"{operator_id} may not drive {robot}: take it over first"
                                  + (" (or wait for the fleet allocator to assign it)" if fleet else ""))
                s.set_input(robot, keys, axes, buttons, now)
                return "input"
            if kind == "take_over":
                if robot is None:
                    raise RefusedError("take over: which robot?")
                s.take_over(robot, assignments, others)
                self.state.set_operator(operator_id, robot, True)
                self.state.note(f"{operator_id} took over {robot}")
                self._publish_now(s, now)
                return f"took over {robot}"
            if kind == "hand_back":
                back = s.hand_back(now)
                self.state.set_operator(operator_id, None, True)
                if back:
                    self.state.note(f"{operator_id} handed {back} back")
                self._publish_now(s, now)
                return f"handed back {back}" if back else "nothing to hand back"
            if kind in ("pause", "reset"):
                if robot is None:
                    raise RefusedError(f"{kind}: which robot?")
                target = s.target(assignments, fleet, self.state.open_robots(operator_id), others)
                owner = assignments.get(robot)
                if robot != target and (robot in others or (owner and owner != operator_id)):
                    raise RefusedError(f"{operator_id} may not {kind} {robot}: it is driven by another operator")
                sample = s.sample(robot, now) if robot == target else s.released_sample(now)
                sample.pause, sample.reset = kind == "pause", kind == "reset"
                self.state.note(f"{operator_id}: {kind} {robot}")
                self.publish(robot, sample)
                return f"{kind} sent to {robot}"
            raise RefusedError(f"unknown request type {kind!r}")

    def _publish_now(self, s: Session, now: float) -> None:
        assignments, fleet = self.state.assignments()
        target = s.target(assignments, fleet, self.state.open_robots(s.operator_id),
                          self._driven_by_others(s.operator_id))
        for robot in s.publish_targets(target, now):
            self.publish(robot, s.sample(robot, now) if robot == target else s.released_sample(now))

    # --------------------------------------------------------------------------- timer
    def tick(self) -> None:
        """Publish every connected operator's sample to the robot it drives (and to one it just
        handed back). Operators without a connected page publish nothing."""
        now = self.clock()
        with self._lock:
            for op, s in self.sessions.items():
                if self.connections.get(op, 0) > 0:
                    self._publish_now(s, now)
