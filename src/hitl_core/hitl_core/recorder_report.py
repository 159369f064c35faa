"""The recorder's own report of what it hears: per recorded topic, how many publishers its reader has
matched (``Subscription.get_publisher_count``: the DDS reader's matches, not the graph's node names).

Why: a node that must not start before the recorder listens (sim_arm's ``wait_for_recorder``) looks
for a subscription by the node named ``recorder`` in the graph. The graph learns node names from
the DDS participants' discovery messages, which a loaded machine can lose for good (soak run m,
docs/fleet.md: robot_0's simulator saw the recorder's observation reader but never its episode_event
reader, and waited the whole run). The report is the recorder's word instead, published every second
on ``recorder/matched`` (std_msgs/String, JSON) in the robot's namespace."""

from __future__ import annotations

import json
from dataclasses import dataclass

REPORT_TOPIC = "recorder/matched"
REPORT_PERIOD_S = 1.0


@dataclass(frozen=True)
class RecorderReport:
    stamp: float               # the recorder's wall clock when it counted
    matched: dict[str, int]    # full topic name -> publishers its reader has matched

    def hears(self, topic: str, since: float) -> bool:
        """Counted at or after ``since`` (a report from before a node started counts its old
        writers) with at least one publisher matched on ``topic``."""
        return self.stamp >= since and self.matched.get(topic, 0) > 0


def encode_report(matched: dict[str, int], stamp: float) -> str:
    return json.dumps({"stamp": stamp, "matched": dict(sorted(matched.items()))})


def parse_report(text: str) -> RecorderReport:
    """The report in ``text``; ValueError when it is not one (malformed JSON, wrong fields)."""
    try:
        data = json.loads(text)
        stamp = float(data["stamp"])
        matched = {str(k): int(v) for k, v in dict(data["matched"]).items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a recorder report ({exc}): {text[:80]!r}") from exc
    return RecorderReport(stamp, matched)
