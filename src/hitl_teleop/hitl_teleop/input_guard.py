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

    def reject(self, topic: str, why: str) -> str:
        """Count one rejection; the line to log."""
        key = f"{topic}: {why}"
        self.rejected[key] = self.rejected.get(key, 0) + 1
        return f"{topic} message rejected ({why}); {self.total()} rejected so far: {self.rejected}"

    def stamp_problem(self, topic: str, stamp: float, now: float) -> str | None:
        """Why a header stamp (seconds; 0 = none, the receipt time is used) is not acceptable."""
        if stamp == 0.0:
            return None
        if stamp != stamp or abs(stamp - now) > self.max_skew_s:
            return f"stamp {stamp - now:+.3f} s from now"
        last = self._last.get(topic)
        if last is not None and stamp < last:
            return f"out of order: stamp {last - stamp:.3f} s older than the previous one"
        self._last[topic] = stamp
        return None
