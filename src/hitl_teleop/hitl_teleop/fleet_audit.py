"""Audit of a fleet allocator's /fleet/status stream: did it follow its own rules?

Pure logic on what the allocator published (hitl_msgs/FleetStatus, read duck-typed), so a test or a
soak can check a running fleet from the outside:

- a hand-over goes to the next in line: a turn that starts in a status message has no robot left in
  that message's queue before it (a queued hard reset before a plain request; otherwise a higher
  priority), i.e. the freed operator took the most urgent waiting robot (fleet.py's rule);
- nobody idles while a robot waits: a status message with a queue names no idle operator;
- a turn is locked: it lasts at least its min_duration (t_T, or t_R for a hard reset) unless its
  operator was away (off line or gone silent), which ends any turn.

A lost status message cannot make the audit fail: a turn's end is the first message seen without it,
never earlier than the real end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

STAMP_EPS_S = 1e-6  # a turn started in a message carries that message's stamp (the same clock reading)


@dataclass(frozen=True)
class Turn:
    """One operator serving one robot, from ``start`` (its identity: operator, robot, start)."""

    operator_id: str
    robot_id: str
    start: float
    min_duration: float
    priority: float
    hard_reset: bool


@dataclass(frozen=True)
class StatusView:
    t: float
    turns: tuple[Turn, ...]
    queue: tuple[tuple[str, float, bool], ...]  # (robot, priority, hard reset), most urgent first
    away: frozenset[str]
    idle: frozenset[str] = frozenset()


def _sec(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def status_view(msg: Any, hard_reset_s: float, min_intervention_s: float) -> StatusView:
    """A FleetStatus message as a StatusView. A turn's hard-reset flag is read from its min_duration
    (t_R vs t_T), so it is only known when the two differ; otherwise every turn counts as plain."""
    def hard(d: float) -> bool:
        return abs(hard_reset_s - min_intervention_s) > 1e-9 and abs(d - hard_reset_s) < 1e-6

    turns = tuple(Turn(a.operator_id, a.robot_id, _sec(a.header.stamp), float(a.min_duration), float(a.priority),
                       hard(float(a.min_duration)))
                  for a in msg.assignments if a.assigned)
    queue = tuple(zip(list(msg.queue_robots), [float(p) for p in msg.queue_priorities],
                      [bool(h) for h in msg.queue_hard_reset], strict=True))
    return StatusView(_sec(msg.header.stamp), turns, queue, frozenset(msg.operators_away),
                      frozenset(msg.operators_idle))


def started_turns(views: Iterable[StatusView]) -> list[Turn]:
    """Every distinct turn seen, in order of first sight."""
    seen: dict[Turn, None] = {}
    for v in views:
        for turn in v.turns:
            seen.setdefault(turn, None)
    return list(seen)


def queue_jumps(views: Iterable[StatusView]) -> list[str]:
    """Turns started while a more urgent robot stayed in the queue (one line each; empty: none)."""
    out = []
    for v in views:
        for turn in v.turns:
            if abs(turn.start - v.t) > STAMP_EPS_S:
                continue  # not started in this message
            for robot, priority, hard in v.queue:
                before = (hard and not turn.hard_reset) or (hard == turn.hard_reset and priority > turn.priority + 1e-9)
                if before:
                    out.append(f"t={v.t:.3f}: {turn.operator_id} -> {turn.robot_id} (priority {turn.priority:.3f}"
                               f"{', hard reset' if turn.hard_reset else ''}) while {robot} waited (priority "
                               f"{priority:.3f}{', hard reset' if hard else ''})")
    return out


def broken_locks(views: Iterable[StatusView]) -> list[str]:
    """Turns that ended before their min_duration with their operator not away."""
    out = []
    previous: StatusView | None = None
    for v in views:
        if previous is not None:
            now = {(t.operator_id, t.robot_id, t.start) for t in v.turns}
            for turn in previous.turns:
                if (turn.operator_id, turn.robot_id, turn.start) in now:
                    continue
                lasted = v.t - turn.start
                if lasted < turn.min_duration and turn.operator_id not in v.away | previous.away:
                    out.append(f"{turn.operator_id} on {turn.robot_id} from t={turn.start:.3f} ended after "
                               f"{lasted:.3f} s < {turn.min_duration:g} s")
        previous = v
    return out


def idle_while_waiting(views: Iterable[StatusView]) -> list[str]:
    """Status messages with an idle operator beside a non-empty queue (one line each)."""
    return [f"t={v.t:.3f}: {sorted(v.idle)} idle while {[q[0] for q in v.queue]} waited"
            for v in views if v.idle and v.queue]
