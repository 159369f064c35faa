"""Fleet-DAgger allocation of M human operators to N robots, and return on human effort (IIFL Eq. 3).

Pure logic; times are in whatever unit the caller uses for `now`, `min_intervention` (t_T) and
`hard_reset_time` (t_R): seconds in the ROS node, timesteps in a synchronous simulation.

Allocation rule (Fleet-DAgger, U.C. priority as used by IIFL): robots that need a hard reset come
first (configurable), then robots by uncertainty priority; only robots whose priority passes the
threshold are served. An assignment is locked for t_T (t_R for a hard reset); after that the
operator stays only while the robot is still among the M highest-priority requesters, otherwise
the operator is released and goes to the next robot in line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RobotRequest:
    robot_id: str
    priority: float = 0.0  # e.g. the uncertainty score
    hard_reset: bool = False  # constraint violation: needs a hard reset
    active: bool = True  # false: the robot does not ask for help


@dataclass
class Assignment:
    operator_id: str
    robot_id: str
    start: float
    priority: float
    hard_reset: bool = False

    def min_duration(self, cfg: FleetConfig) -> float:
        return cfg.hard_reset_time if self.hard_reset else cfg.min_intervention


@dataclass
class FleetConfig:
    operator_ids: list[str]
    threshold: float = 0.0  # a robot is served only when priority > threshold (or hard reset)
    min_intervention: float = 5.0  # t_T
    hard_reset_time: float = 5.0  # t_R
    hard_reset_first: bool = (
        True  # hard resets above every uncertainty (the brief; IIFL's text lists them after)
    )

    def __post_init__(self) -> None:
        if not self.operator_ids:
            raise ValueError("the fleet needs at least one operator")
        if len(set(self.operator_ids)) != len(self.operator_ids):
            raise ValueError(f"operator ids must be unique: {self.operator_ids}")
        if self.min_intervention < 0 or self.hard_reset_time < 0:
            raise ValueError("min_intervention and hard_reset_time must be >= 0")


@dataclass
class Allocation:
    assignments: list[Assignment]
    started: list[Assignment] = field(default_factory=list)
    released: list[Assignment] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # requesting robots with no operator free
    away: list[str] = field(default_factory=list)  # operators passed over as absent (off line or gone silent)

    def idle(self, operator_ids: Iterable[str]) -> list[str]:
        """Operators present with no robot (in ``operator_ids`` order)."""
        busy = {a.operator_id for a in self.assignments}
        return [op for op in operator_ids if op not in busy and op not in self.away]


class FleetAllocator:
    """Keeps the current assignments; `update` computes the next ones from the robots' requests."""

    def __init__(self, config: FleetConfig):
        self.config = config
        self.assignments: dict[str, Assignment] = {}  # by robot id

    def _key(self, req: RobotRequest) -> tuple:
        reset_tier = 1 if (req.hard_reset and self.config.hard_reset_first) else 0
        kept = 0 if req.robot_id in self.assignments else 1  # on a tie, stay: no switching for nothing
        return (-reset_tier, -req.priority, kept, req.robot_id)

    def _eligible(self, req: RobotRequest) -> bool:
        return req.active and (req.hard_reset or req.priority > self.config.threshold)

    def update(self, requests: dict[str, RobotRequest] | list[RobotRequest], now: float,
               absent: set[str] | frozenset[str] = frozenset()) -> Allocation:
        """The next assignments; operators in ``absent`` (gone silent) lose theirs, locked or not, and get none."""
        reqs = {r.robot_id: r for r in requests} if isinstance(requests, list) else dict(requests)
        cfg = self.config
        present = [op for op in cfg.operator_ids if op not in absent]
        locked = {rid: a for rid, a in self.assignments.items()
                  if now - a.start < a.min_duration(cfg) - 1e-9 and a.operator_id not in absent}
        candidates = sorted(
            (r for rid, r in reqs.items() if rid not in locked and self._eligible(r)), key=self._key
        )
        chosen = candidates[: max(0, len(present) - len(locked))]
        chosen_ids = {r.robot_id for r in chosen}
        new_map = dict(locked)
        for r in chosen:  # continuing assignments keep their operator and start time
            if r.robot_id in self.assignments and self.assignments[r.robot_id].operator_id not in absent:
                a = self.assignments[r.robot_id]
                a.priority = r.priority
                new_map[r.robot_id] = a
        busy = {a.operator_id for a in new_map.values()}
        free = [op for op in present if op not in busy]
        started = []
        for r in chosen:
            if r.robot_id in new_map:
                continue
            a = Assignment(free.pop(0), r.robot_id, now, r.priority, r.hard_reset)
            new_map[r.robot_id] = a
            started.append(a)
        released = [a for rid, a in self.assignments.items() if new_map.get(rid) is not a]
        self.assignments = new_map
        waiting = [r.robot_id for r in candidates if r.robot_id not in chosen_ids]
        ordered = sorted(new_map.values(), key=lambda a: cfg.operator_ids.index(a.operator_id))
        away = [op for op in cfg.operator_ids if op in absent]
        return Allocation(ordered, started, released, waiting, away)

    def operator_of(self, robot_id: str) -> str | None:
        a = self.assignments.get(robot_id)
        return a.operator_id if a else None


class OperatorPresence:
    """Which operators went silent while they held a robot: no teleop message from an operator for
    ``timeout`` since it was given a robot (or since its last message, if later) makes it absent for
    ``retry``; ``timeout`` <= 0 turns the check off.

    The clock runs from the start of the operator's busy period, not of its current assignment: the
    allocator may move an operator to another robot every t_T, and a dead operator moved every second
    (t_T = 1 s, a 2 s timeout) was never found silent and kept getting robots for its whole absence
    (soak of 2026-12-03, docs/fleet.md).
    """

    def __init__(self, timeout: float, retry: float) -> None:
        self.timeout, self.retry = timeout, retry
        self.heard: dict[str, float] = {}  # operator -> time of its last teleop message
        self.busy_since: dict[str, float] = {}  # operator -> start of its current busy period
        self.absent_until: dict[str, float] = {}

    def heard_from(self, operator_id: str, now: float) -> None:
        self.heard[operator_id] = now

    def update(self, assignments: Iterable[Assignment], now: float
               ) -> tuple[set[str], list[tuple[str, str, float]]]:
        """Before an allocation, with the current assignments: (the absent operators, the operators found
        silent just now as (operator, robot, silent seconds))."""
        if self.timeout <= 0:
            return set(), []
        held = {a.operator_id: a for a in assignments}
        self.busy_since = {op: self.busy_since.get(op, a.start) for op, a in held.items()}
        newly = []
        for op, a in held.items():
            since = self.busy_since[op]
            silent = now - max(since, self.heard.get(op, since))
            if silent > self.timeout and op not in self.absent_until:
                self.absent_until[op] = now + self.retry
                newly.append((op, a.robot_id, silent))
        for op in [o for o, t in self.absent_until.items() if now >= t]:
            del self.absent_until[op]
        return set(self.absent_until), newly


HEARTBEAT_TOPIC = "/fleet/operator_heartbeat"  # std_msgs/String: the operator id, from its device node
HEARTBEAT_PERIOD_S = 0.5


class OperatorHeartbeats:
    """Which operators are on line: each operator's device node beats on ``HEARTBEAT_TOPIC``; one not
    heard from for ``timeout`` (or not yet heard at all) is off line and gets no robot.

    Why: an operator whose device node has not started yet (or not yet been matched by DDS) was given
    robots anyway, found silent on them (``OperatorPresence``) and its robots waited; now it gets none
    until it is heard. An operator that goes off line after having been on line (its process died)
    loses its robot as an absent one does. (On the loaded soak machine operators also go off line for
    seconds because their processes get no CPU: docs/fleet.md, run g.) ``timeout`` <= 0: every operator
    is on line (no heartbeats).
    """

    def __init__(self, operator_ids: Iterable[str], timeout: float) -> None:
        self.operator_ids, self.timeout = list(operator_ids), timeout
        self.last: dict[str, float] = {}
        self.online: set[str] = set(self.operator_ids) if timeout <= 0 else set()

    def beat(self, operator_id: str, now: float) -> None:
        if operator_id in self.operator_ids:
            self.last[operator_id] = now

    def update(self, now: float) -> tuple[set[str], list[str], list[tuple[str, float]]]:
        """(the operators off line, those that came on line just now, those that went off line just now
        as (operator, seconds since its last beat))."""
        if self.timeout <= 0:
            return set(), [], []
        online = {op for op, t in self.last.items() if now - t <= self.timeout}
        came = [op for op in self.operator_ids if op in online and op not in self.online]
        lost = [(op, now - self.last[op]) for op in self.operator_ids if op in self.online and op not in online]
        self.online = online
        return set(self.operator_ids) - online, came, lost


ALLOCATOR_SILENT_S = 3.0  # the allocator publishes /fleet/assignments at every tick (10 Hz by default)
NEVER_HEARD_FACTOR = 5


class HeartbeatGate:
    """An operator's device node beats only while it hears the allocator on ``/fleet/assignments``.

    A beat tells the allocator "hand me robots". Soak run n (docs/fleet.md): an operator restarted
    after a SIGKILL beat for 17 minutes, the allocator heard it and kept handing it robots, but its
    reader never received one assignment, so each robot waited until the allocator found it silent,
    and then got it again. A node deaf to the allocator now falls silent itself (the allocator then
    counts it off line, ``OperatorHeartbeats``), says so in its log, and beats again once it hears.
    """

    def __init__(self, started: float, silent_s: float = ALLOCATOR_SILENT_S) -> None:
        self.started, self.silent_s = started, silent_s
        self.last: float | None = None
        self.beating = False
        self.warned_never = False

    def heard(self, now: float) -> None:
        self.last = now

    def update(self, now: float) -> tuple[bool, str | None]:
        """(beat now?, a line to log: the beat started or stopped, or the allocator is not heard yet
        ``NEVER_HEARD_FACTOR`` x ``silent_s`` after the start, once)."""
        beat = self.last is not None and now - self.last <= self.silent_s
        changed, self.beating = beat != self.beating, beat
        if changed and beat:
            return True, "hearing the fleet allocator: beating on " + HEARTBEAT_TOPIC
        if changed:
            return False, (f"no /fleet/assignments for {now - self.last:.1f} s: heartbeat stopped (allocator down, "
                           "or this node's reader hears nothing) until the allocator is heard again")
        if self.last is None and not self.warned_never and now - self.started > NEVER_HEARD_FACTOR * self.silent_s:
            self.warned_never = True
            return False, (f"no /fleet/assignments in {now - self.started:.1f} s since the start: no heartbeat "
                           "(and no robot) until the allocator is heard")
        return beat, None


def rohe(rewards: np.ndarray, human_actions: np.ndarray, num_humans: int, reduce: str = "sum") -> float:
    """Return on human effort, IIFL Eq. 3: (M / N) * sum_t rbar_t / (1 + sum_t ||alpha_t||_F^2).

    rewards: (T, N) per-step rewards of the N robots; human_actions: (T, N) true where a human
    supervised (teleoperated or hard-reset) that robot at that step, so ||alpha_t||_F^2 is the
    number of busy humans at t. rbar_t is the fleet's reward at t: summed over robots ("sum",
    Fleet-DAgger's fleet reward) or averaged ("mean").
    """
    r = np.atleast_2d(np.asarray(rewards, float))
    h = np.atleast_2d(np.asarray(human_actions, bool))
    if r.shape != h.shape:
        raise ValueError(f"rewards {r.shape} and human_actions {h.shape} must have the same (T, N) shape")
    if num_humans < 1:
        raise ValueError(f"num_humans must be >= 1, got {num_humans}")
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    n_robots = r.shape[1]
    rbar = r.sum(axis=1) if reduce == "sum" else r.mean(axis=1)
    return float(num_humans / n_robots * rbar.sum() / (1.0 + h.sum()))


@dataclass
class Handover:
    """One assignment started or ended (kept for the status and the logs)."""

    time: float
    operator_id: str
    robot_id: str
    started: bool
    hard_reset: bool
    priority: float


class FleetLedger:
    """Running totals for a live fleet: waiting times, hand-overs, hard resets, successes, ROHE so far.

    ``update(allocation, now)`` after every allocation; ``episode_end(success)`` per finished
    episode. ROHE so far is IIFL Eq. 3 with rewards = successes and human effort = operator-seconds
    times ``control_rate_hz`` (one human action per control tick).
    """

    def __init__(self, n_robots: int, n_operators: int, control_rate_hz: float = 10.0) -> None:
        if n_robots < 1 or n_operators < 1:
            raise ValueError("need at least one robot and one operator")
        self.n_robots, self.n_operators, self.rate = n_robots, n_operators, float(control_rate_hz)
        self.waiting_since: dict[str, float] = {}
        self.handovers: list[Handover] = []
        self.successes = 0
        self.hard_resets = 0
        self.human_s = 0.0
        self._last: float | None = None
        self._busy = 0

    def update(self, allocation: Allocation, now: float) -> None:
        if self._last is not None:
            self.human_s += self._busy * max(0.0, now - self._last)
        self._last, self._busy = now, len(allocation.assignments)
        for a in allocation.started:
            self.handovers.append(Handover(now, a.operator_id, a.robot_id, True, a.hard_reset, a.priority))
            self.hard_resets += int(a.hard_reset)
        for a in allocation.released:
            self.handovers.append(Handover(now, a.operator_id, a.robot_id, False, a.hard_reset, a.priority))
        self.waiting_since = {r: self.waiting_since.get(r, now) for r in allocation.waiting}

    def episode_end(self, success: bool) -> None:
        self.successes += int(bool(success))

    def waiting_s(self, robot_id: str, now: float) -> float:
        return now - self.waiting_since.get(robot_id, now)

    def rohe(self) -> float:
        human_steps = self.human_s * self.rate
        return self.n_operators / self.n_robots * self.successes / (1.0 + human_steps)
