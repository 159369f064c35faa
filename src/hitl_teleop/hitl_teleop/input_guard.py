"""Screening of every message a node receives before it reaches the logic (pure: no rclpy).

A message is rejected, counted per topic and reason, when its header stamp is far from the node's
clock (a stamp in the future would defeat the staleness watchdogs), older than the last one
accepted on that topic (out of order), or when the conversion into the logic's input raises
(wrong array lengths, NaN/inf where they cannot be held, unknown enum values). Used by
arbiter_node (docs/arbiter.md) and tested by src/hitl_teleop/test/test_fuzz_subscribers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SKEW_S = 1.0  # |stamp - now| above this: rejected


@dataclass
class InputGuard:
    max_skew_s: float = MAX_SKEW_S
    rejected: dict[str, int] = field(default_factory=dict)  # "topic: reason" -> count
    _last: dict[str, float] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, topic: str, why: str) -> tuple[str, bool]:
        """Count one rejection: (the line to log, whether it is the first of its kind: log it always).
        The kind is the reason up to its first colon ("stamp in the future", "ValueError", ...)."""
        key = f"{topic}: {why.split(':')[0]}"
        first = key not in self.rejected
        self.rejected[key] = self.rejected.get(key, 0) + 1
        return f"{topic} message rejected ({why}); {self.total()} rejected so far: {self.rejected}", first

    def stamp_problem(self, topic: str, stamp: float, now: float, sender: str = "") -> str | None:
        """Why a header stamp (seconds; 0 = none, the receipt time is used) is not acceptable. Order
        is checked per (topic, sender): several devices may publish on one teleop topic."""
        if stamp == 0.0:
            return None
        if stamp != stamp or abs(stamp - now) > self.max_skew_s:
            side = "future" if stamp > now else "past"
            return f"stamp in the {side}: {stamp - now:+.3f} s from now"
        key = f"{topic}/{sender}"
        last = self._last.get(key)
        if last is not None and stamp < last:
            return f"out of order: stamp {last - stamp:.3f} s older than the previous one"
        self._last[key] = stamp
        return None
