"""The runner's live fleet table: /fleet/status (hitl_msgs/FleetStatus) as a rich table.

``status_rows`` and ``render`` are plain functions of the message's fields (testable without ROS);
fleet_table_node.py subscribes and redraws with them.
"""

from __future__ import annotations

from typing import Any


def status_rows(msg: Any, now: float) -> dict:
    """Plain dict of a FleetStatus message: assignments (with held seconds), queue, totals."""
    def sec(stamp) -> float:
        return stamp.sec + stamp.nanosec * 1e-9

    serving = [{"operator": a.operator_id, "robot": a.robot_id, "priority": a.priority,
                "held_s": max(0.0, now - sec(a.header.stamp)), "min_s": a.min_duration}
               for a in msg.assignments if a.assigned]
    queue = [{"robot": r, "priority": p, "hard_reset": h, "waiting_s": w}
             for r, p, h, w in zip(msg.queue_robots, msg.queue_priorities, msg.queue_hard_reset,
                                   msg.queue_waiting_s, strict=False)]
    return {"serving": serving, "idle": list(msg.operators_idle), "away": list(msg.operators_away),
            "queue": queue, "successes": msg.successes,
            "hard_resets": msg.hard_resets, "handovers": msg.handovers, "human_s": msg.human_s, "rohe": msg.rohe}


def render(rows: dict):
    """A rich Table: one line per operator (serving, idle or away), then the queue, then the totals."""
    from rich.table import Table

    t = Table(title=f"fleet: {rows['successes']} successes, {rows['hard_resets']} hard resets, "
                    f"{rows['handovers']} hand-overs, human {rows['human_s']:.1f} s, ROHE {rows['rohe']:.3f}")
    for col in ("operator", "robot", "priority", "held / min (s)", "queue: robot", "priority", "waiting (s)"):
        t.add_column(col)
    left = [(s["operator"], s["robot"], f"{s['priority']:.3f}", f"{s['held_s']:.1f} / {s['min_s']:.1f}")
            for s in rows["serving"]] + [(op, "-", "", "") for op in rows["idle"]] + [
                (op, "away (no heartbeat / silent)", "", "") for op in rows.get("away", [])]
    right = [(q["robot"] + (" (reset)" if q["hard_reset"] else ""), f"{q['priority']:.3f}", f"{q['waiting_s']:.1f}")
             for q in rows["queue"]]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ("", "", "", "")
        b = right[i] if i < len(right) else ("", "", "")
        t.add_row(*a, *b)
    return t
