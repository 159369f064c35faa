"""bench/soak.py's watcher: an rclpy subscriber in a thread that keeps what the soak judges faults by
(every robot's control_state and episode ENDs, /fleet/assignments, /fleet/status), with the time each
message came."""

from __future__ import annotations

import threading
import time


class Watch:
    """rclpy subscriber in a thread: every robot's control_state / episode_event, /fleet/assignments and
    /fleet/status (the latest one, and for how long each operator was away: off line or gone silent)."""

    def __init__(self, domain: int, robots: list[str]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        from hitl_msgs.msg import ControlState, EpisodeEvent, FleetAssignment, FleetStatus

        self.CS, self.EE = ControlState, EpisodeEvent
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("soak_watch", context=self.ctx)
        self.lock = threading.Lock()
        self.states: dict[str, list[tuple[float, object]]] = {r: [] for r in robots}
        self.ends: dict[str, dict[int, float]] = {r: {} for r in robots}
        self.assign: list[tuple[float, object]] = []
        for r in robots:
            self.node.create_subscription(ControlState, f"/{r}/control_state",
                                          lambda m, r=r: self._add(self.states[r], m), 200)
            self.node.create_subscription(EpisodeEvent, f"/{r}/episode_event", lambda m, r=r: self._ep(r, m), 50)
        self.node.create_subscription(FleetAssignment, "/fleet/assignments", lambda m: self._add(self.assign, m), 50)
        self.status: tuple[float, object] | None = None
        self.away_s: dict[str, float] = {}
        self.node.create_subscription(FleetStatus, "/fleet/status", self._status, 50)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while not self.stopping.is_set():
            self.ex.spin_once(timeout_sec=0.05)

    def _add(self, store: list, msg) -> None:
        with self.lock:
            store.append((time.time(), msg))
            if len(store) > 20000:  # keep memory flat over long soaks
                del store[:10000]

    def _status(self, msg) -> None:
        now = time.time()
        with self.lock:
            if self.status is not None:  # the previous message's away operators were away until now
                for op in self.status[1].operators_away:
                    self.away_s[op] = self.away_s.get(op, 0.0) + now - self.status[0]
            self.status = (now, msg)

    def fleet_view(self) -> dict:
        """The allocator's latest view: idle and away operators, the queue (what a stall record needs)."""
        with self.lock:
            if self.status is None:
                return {"status": None}
            t, msg = self.status
        return {"status_age_s": round(time.time() - t, 2), "operators_idle": list(msg.operators_idle),
                "operators_away": list(msg.operators_away), "queue": list(msg.queue_robots)}

    def _ep(self, robot: str, msg) -> None:
        if msg.event == self.EE.EVENT_END and msg.note != "finished":
            with self.lock:
                self.ends[robot].setdefault(int(msg.episode), time.time())

    def last_state(self, robot: str, max_age_s: float | None = None):
        """The robot's latest control_state; None if there is none, or (``max_age_s``) it came earlier."""
        with self.lock:
            if not self.states[robot]:
                return None
            t, msg = self.states[robot][-1]
        return msg if max_age_s is None or time.time() - t <= max_age_s else None

    def serving(self) -> dict[str, str]:
        """robot -> operator of the latest /fleet/assignments message."""
        with self.lock:
            if not self.assign:
                return {}
            msg = self.assign[-1][1]
        return {a.robot_id: a.operator_id for a in msg.assignments if a.assigned}

    def allocator_alive(self, now: float, window_s: float = 30.0) -> dict:
        """Assignment messages in the last window and the age of the latest (a stalled allocator shows)."""
        with self.lock:
            recent = sum(1 for tr, _ in self.assign if tr >= now - window_s)
            age = round(now - self.assign[-1][0], 2) if self.assign else None
        return {"assignment_msgs": recent, "last_assignment_age_s": age}

    def states_after(self, robot: str, t: float) -> list[tuple[float, object]]:
        with self.lock:
            return [(tr, m) for tr, m in self.states[robot] if tr >= t]

    def assignments_after(self, t: float) -> list[tuple[float, object]]:
        with self.lock:
            return [(tr, m) for tr, m in self.assign if tr >= t]

    def close(self, timeout_s: float = 30.0) -> None:
        """The spin thread out of its wait first: the context shut down under a spinning executor hung
        in rclpy's logging teardown at the end of a 20-minute soak (the results never written). The
        teardown itself runs in a thread given ``timeout_s``: in soak run i the participant deadlocked
        there (Fast DDS's shared-memory receive thread waiting on its PDP mutex)."""
        self.stopping.set()
        self.thread.join(timeout=10)

        def teardown() -> None:
            self.ex.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
            self.ctx.shutdown()

        closer = threading.Thread(target=teardown, daemon=True)
        closer.start()
        closer.join(timeout=timeout_s)
        if closer.is_alive():
            print(f"[soak] the watcher's ROS context did not shut down in {timeout_s:.0f} s: going on without it",
                  flush=True)


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def reason_name(cs_cls, reason: int) -> str:
    names = {getattr(cs_cls, k): k[len("REASON_"):] for k in dir(cs_cls) if k.startswith("REASON_")}
    return names.get(reason, str(reason))
