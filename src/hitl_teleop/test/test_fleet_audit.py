"""fleet_audit: the allocator's own rules checked on its status stream (pure, no ROS)."""

from __future__ import annotations

import random
from types import SimpleNamespace

from hitl_teleop.fleet import Allocation, FleetAllocator, FleetConfig, RobotRequest
from hitl_teleop.fleet_audit import (
    StatusView,
    Turn,
    broken_locks,
    idle_while_waiting,
    queue_jumps,
    started_turns,
    status_view,
)

T_T, T_R = 1.0, 2.0


def view(alloc: Allocation, reqs: dict[str, RobotRequest], cfg: FleetConfig, t: float) -> StatusView:
    """What the allocator node publishes for one tick (ros_conversions.fleet_status_msg), as a view."""
    turns = tuple(Turn(a.operator_id, a.robot_id, a.start, a.min_duration(cfg), a.priority, a.hard_reset)
                  for a in alloc.assignments)
    queue = tuple((r, reqs[r].priority, reqs[r].hard_reset) for r in alloc.waiting)
    return StatusView(t, turns, queue, frozenset(alloc.away), frozenset(alloc.idle(cfg.operator_ids)))


def run_allocator(allocator_cls=FleetAllocator, ticks: int = 600, seed: int = 0) -> list[StatusView]:
    rng = random.Random(seed)
    cfg = FleetConfig(["op_0", "op_1"], threshold=0.5, min_intervention=T_T, hard_reset_time=T_R)
    alloc = allocator_cls(cfg)
    robots = [f"robot_{i}" for i in range(8)]
    views = []
    for k in range(ticks):
        t = 100.0 + 0.1 * k
        reqs = {r: RobotRequest(r, rng.random(), rng.random() < 0.03, rng.random() < 0.8) for r in robots}
        absent = {"op_1"} if 200 <= k < 260 else set()  # an operator gone silent for 6 s
        views.append(view(alloc.update(list(reqs.values()), t, absent), reqs, cfg, t))
    return views


def test_the_real_allocator_passes_its_own_audit():
    views = run_allocator()
    turns = started_turns(views)
    assert len(turns) > 100 and {t.operator_id for t in turns} == {"op_0", "op_1"}
    assert any(t.hard_reset for t in turns)
    assert queue_jumps(views) == []
    assert broken_locks(views) == []
    assert idle_while_waiting(views) == []
    assert any(v.queue for v in views) and any(v.idle for v in views)


def test_an_idle_operator_beside_a_queue_is_caught():
    v = StatusView(3.0, (), (("robot_4", 0.8, False),), frozenset(), frozenset({"op_1"}))
    assert idle_while_waiting([v]) == ["t=3.000: ['op_1'] idle while ['robot_4'] waited"]
    # an away operator is not idle: a queue beside it is not the allocator's fault
    assert idle_while_waiting([StatusView(3.0, (), (("robot_4", 0.8, False),), frozenset({"op_1"}))]) == []


class _Backwards(FleetAllocator):
    """Serves the least uncertain requester first: the freed operator skips the line."""

    def _key(self, req: RobotRequest) -> tuple:
        return (req.priority, req.robot_id)


def test_an_allocator_that_skips_the_line_is_caught():
    jumps = queue_jumps(run_allocator(_Backwards))
    assert jumps and "while" in jumps[0]


def test_a_plain_request_served_before_a_waiting_hard_reset_is_caught():
    fresh = Turn("op_0", "robot_1", 5.0, T_T, 0.9, False)
    v = StatusView(5.0, (fresh,), (("robot_2", 0.1, True),), frozenset())
    assert len(queue_jumps([v])) == 1
    # a continuing turn (started earlier) is not a hand-over: a queue beside it is not judged here
    older = StatusView(5.0, (Turn("op_0", "robot_1", 4.0, T_T, 0.9, False),), (("robot_2", 0.1, True),), frozenset())
    assert queue_jumps([older]) == []


def test_a_lock_ended_early_is_caught_unless_its_operator_was_away():
    turn = Turn("op_0", "robot_1", 10.0, T_T, 0.9, False)
    held = StatusView(10.0, (turn,), (), frozenset())
    gone_early = StatusView(10.5, (), (), frozenset())
    assert len(broken_locks([held, gone_early])) == 1
    assert broken_locks([held, StatusView(10.5, (), (), frozenset({"op_0"}))]) == []
    assert broken_locks([held, StatusView(11.0, (), (), frozenset())]) == []
    # a lost message only makes a turn look longer: the end is the first message seen without it
    assert broken_locks([held, StatusView(10.4, (turn,), (), frozenset()), StatusView(12.0, (), (), frozenset())]) == []


def _stamp(t: float) -> SimpleNamespace:
    return SimpleNamespace(sec=int(t), nanosec=round((t - int(t)) * 1e9))


def test_status_view_reads_a_fleet_status_message():
    a = SimpleNamespace(header=SimpleNamespace(stamp=_stamp(7.25)), operator_id="op_1", robot_id="robot_3",
                        assigned=True, min_duration=T_R, priority=0.7)
    msg = SimpleNamespace(header=SimpleNamespace(stamp=_stamp(7.25)), assignments=[a], queue_robots=["robot_0"],
                          queue_priorities=[0.6], queue_hard_reset=[False], operators_away=["op_0"], operators_idle=[])
    v = status_view(msg, hard_reset_s=T_R, min_intervention_s=T_T)
    assert v.t == 7.25 and v.away == {"op_0"} and v.queue == (("robot_0", 0.6, False),)
    assert v.turns == (Turn("op_1", "robot_3", 7.25, T_R, 0.7, True),)
    # with t_R == t_T the flag cannot be read: plain
    assert not status_view(msg, hard_reset_s=T_T, min_intervention_s=T_T).turns[0].hard_reset
