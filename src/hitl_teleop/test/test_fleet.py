"""Fleet-DAgger allocator (priority, hard resets first, t_T / t_R locks) and ROHE (IIFL Eq. 3)."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_teleop.fleet import (
    Assignment,
    FleetAllocator,
    FleetConfig,
    HeartbeatGate,
    OperatorHeartbeats,
    OperatorPresence,
    RobotRequest,
    rohe,
)


def reqs(**prio) -> list[RobotRequest]:
    return [RobotRequest(rid, p) for rid, p in prio.items()]


def pairs(alloc) -> dict[str, str]:
    return {a.robot_id: a.operator_id for a in alloc.assignments}


def test_highest_priorities_above_threshold_get_the_operators():
    fa = FleetAllocator(FleetConfig(["h0", "h1"], threshold=0.5, min_intervention=3))
    out = fa.update(reqs(r0=0.9, r1=0.2, r2=2.0, r3=1.0), now=0)
    assert pairs(out) == {"r2": "h0", "r3": "h1"}
    assert out.waiting == ["r0"]  # r1 is below the threshold: not waiting
    assert {a.robot_id for a in out.started} == {"r2", "r3"}


def test_assignment_locked_for_min_intervention_time():
    fa = FleetAllocator(FleetConfig(["h0"], min_intervention=3))
    fa.update(reqs(r0=1.0, r1=0.5), now=0)
    for t in (1, 2):  # r1 becomes more urgent and r0 stops asking, but t_T has not passed
        out = fa.update([RobotRequest("r0", 0.0, active=False), RobotRequest("r1", 5.0)], now=t)
        assert pairs(out) == {"r0": "h0"} and out.waiting == ["r1"] and not out.released
    out = fa.update([RobotRequest("r0", 0.0, active=False), RobotRequest("r1", 5.0)], now=3)
    assert pairs(out) == {"r1": "h0"}
    assert [a.robot_id for a in out.released] == ["r0"]


def test_assignment_continues_after_min_time_while_still_top():
    fa = FleetAllocator(FleetConfig(["h0"], min_intervention=2))
    fa.update(reqs(r0=3.0, r1=1.0), now=0)
    out = fa.update(reqs(r0=3.0, r1=1.0), now=5)
    assert pairs(out) == {"r0": "h0"} and not out.started and not out.released
    assert fa.assignments["r0"].start == 0  # same assignment, not restarted


def test_equal_priority_does_not_steal_the_operator():
    fa = FleetAllocator(FleetConfig(["h0"], min_intervention=1))
    fa.update(reqs(r1=3.0), now=0)
    out = fa.update(reqs(r0=3.0, r1=3.0), now=5)  # r0 sorts first by id, but r1 already has h0
    assert pairs(out) == {"r1": "h0"} and out.waiting == ["r0"]


def test_hard_reset_first_and_takes_hard_reset_time():
    cfg = FleetConfig(["h0"], threshold=0.0, min_intervention=1, hard_reset_time=5)
    fa = FleetAllocator(cfg)
    out = fa.update([RobotRequest("r0", 9.0), RobotRequest("r1", 0.0, hard_reset=True)], now=0)
    assert pairs(out) == {"r1": "h0"}  # hard reset outranks any uncertainty, even below threshold
    for t in (1, 2, 3, 4):
        assert pairs(fa.update([RobotRequest("r0", 9.0)], now=t)) == {"r1": "h0"}
    assert pairs(fa.update([RobotRequest("r0", 9.0)], now=5)) == {"r0": "h0"}


def test_hard_reset_after_uncertainty_when_configured():
    fa = FleetAllocator(FleetConfig(["h0"], hard_reset_first=False))
    out = fa.update([RobotRequest("r0", 9.0), RobotRequest("r1", 0.0, hard_reset=True)], now=0)
    assert pairs(out) == {"r0": "h0"}


def test_one_operator_per_robot_and_one_robot_per_operator():
    rng = np.random.default_rng(0)
    ops = [f"h{i}" for i in range(3)]
    fa = FleetAllocator(FleetConfig(ops, threshold=0.3, min_intervention=2, hard_reset_time=4))
    for t in range(200):
        rq = [
            RobotRequest(f"r{i}", float(rng.random()), hard_reset=bool(rng.random() < 0.05))
            for i in range(10)
        ]
        out = fa.update(rq, now=t)
        robots = [a.robot_id for a in out.assignments]
        operators = [a.operator_id for a in out.assignments]
        assert len(set(robots)) == len(robots) and len(set(operators)) == len(operators) <= 3
        for a in out.released:
            assert t - a.start >= a.min_duration(fa.config)


def test_an_absent_operator_loses_its_robot_even_when_locked_and_gets_none():
    fa = FleetAllocator(FleetConfig(["h0", "h1"], min_intervention=10))
    fa.update(reqs(r0=3.0, r1=2.0, r2=1.0), now=0)  # h0 -> r0, h1 -> r1, r2 waits
    out = fa.update(reqs(r0=3.0, r1=2.0, r2=1.0), now=1, absent={"h0"})  # h0 died within t_T
    assert [(a.operator_id, a.robot_id) for a in out.released] == [("h0", "r0")]
    assert pairs(out) == {"r1": "h1"}  # h1 is locked on r1 for t_T: r0 waits for a free operator
    assert out.waiting == ["r0", "r2"] and out.away == ["h0"]
    out = fa.update(reqs(r0=3.0, r1=2.0, r2=1.0), now=11, absent={"h0"})  # t_T over: the most urgent gets h1
    assert pairs(out) == {"r0": "h1"}
    out = fa.update(reqs(r0=3.0, r1=2.0, r2=1.0), now=12)  # h0 back
    assert pairs(out) == {"r0": "h1", "r1": "h0"} and out.away == []


def test_config_errors():
    with pytest.raises(ValueError):
        FleetConfig([])
    with pytest.raises(ValueError):
        FleetConfig(["a", "a"])


def test_rohe_matches_equation_3():
    rewards = np.array([[0, 1, 0, 0], [1, 0, 0, 1]], float)  # T=2, N=4
    human = np.array([[1, 0, 0, 0], [0, 1, 1, 0]], bool)  # 3 human actions
    # M/N * sum_t rbar_t / (1 + sum ||alpha||^2) = 2/4 * 3 / 4
    assert rohe(rewards, human, num_humans=2) == pytest.approx(0.375)
    assert rohe(rewards, human, num_humans=2, reduce="mean") == pytest.approx(0.5 * 0.75 / 4)
    assert rohe(rewards, np.zeros_like(human), 2) == pytest.approx(0.5 * 3)
    with pytest.raises(ValueError, match="shape"):
        rohe(rewards, human[:1], 2)


def test_ledger_counts_handovers_hard_resets_waiting_and_rohe():
    from hitl_teleop.fleet import FleetLedger

    fa = FleetAllocator(FleetConfig(["h0"], threshold=0.1, min_intervention=2, hard_reset_time=3))
    led = FleetLedger(n_robots=3, n_operators=1, control_rate_hz=10.0)
    reqs = [RobotRequest("r0", 0.9), RobotRequest("r1", 0.5), RobotRequest("r2", 0.0, hard_reset=True)]
    out = fa.update(reqs, now=0.0)
    led.update(out, 0.0)
    assert [a.robot_id for a in out.assignments] == ["r2"]  # hard reset first
    assert led.hard_resets == 1 and set(led.waiting_since) == {"r0", "r1"}
    out = fa.update(reqs, now=1.0)
    led.update(out, 1.0)
    assert led.waiting_s("r0", 1.0) == pytest.approx(1.0)
    reqs[2] = RobotRequest("r2", 0.0, hard_reset=False, active=False)  # reset done
    out = fa.update(reqs, now=3.0)  # t_R over: the freed operator goes to the next in line (r0)
    led.update(out, 3.0)
    assert [a.robot_id for a in out.assignments] == ["r0"] and [a.robot_id for a in out.released] == ["r2"]
    assert "r0" not in led.waiting_since and led.waiting_s("r1", 3.0) == pytest.approx(3.0)
    started = [(h.operator_id, h.robot_id) for h in led.handovers if h.started]
    assert started == [("h0", "r2"), ("h0", "r0")]
    led.episode_end(True)
    led.episode_end(False)
    assert led.human_s == pytest.approx(3.0)  # one operator busy for 3 s
    assert led.rohe() == pytest.approx(1 / 3 * 1 / (1 + 30))


def _run_presence(heard_every: float | None, until: float, timeout: float = 2.0, retry: float = 5.0):
    """Two operators, four robots whose priorities change every tick (t_T = 1 s: operators move between
    robots about every second, as in the soak); h1 sends teleop every ``heard_every`` s (None: dead from
    t = 0.5 s), h0 always. Returns (time h1 was first found absent, robots h1 held after 5 s)."""
    fa = FleetAllocator(FleetConfig(["h0", "h1"], min_intervention=1.0))
    presence = OperatorPresence(timeout, retry)
    rng = np.random.default_rng(0)
    first_absent, held_late = None, set()
    for k in range(int(until / 0.1)):
        now = k * 0.1
        presence.heard_from("h0", now)
        if (heard_every is not None and k % max(1, round(heard_every / 0.1)) == 0) or now < 0.5:
            presence.heard_from("h1", now)
        absent, newly = presence.update(fa.assignments.values(), now)
        if any(op == "h1" for op, _, _ in newly) and first_absent is None:
            first_absent = now
        out = fa.update(reqs(**{f"r{i}": float(p) for i, p in enumerate(rng.uniform(0, 1, 4))}), now, absent)
        if now > 5.0:
            held_late |= {a.robot_id for a in out.assignments if a.operator_id == "h1"}
    return first_absent, held_late


def test_a_dead_operator_moved_between_robots_every_second_is_still_found_silent():
    first_absent, _ = _run_presence(heard_every=None, until=4.0)
    assert first_absent is not None and 2.3 <= first_absent <= 2.6  # 2 s after its last message at 0.4 s


def test_a_dead_operator_gets_robots_only_on_its_retries():
    """Absent for 5 s after each 2 s of silence: one ~2.1 s retry assignment per ~7.1 s cycle, ~10 s of 30."""
    fa = FleetAllocator(FleetConfig(["h0", "h1"], min_intervention=1.0))
    presence = OperatorPresence(2.0, 5.0)
    held = 0
    for k in range(300):  # 30 s, every robot always asking; h1 never heard
        now = k * 0.1
        presence.heard_from("h0", now)
        absent, _ = presence.update(fa.assignments.values(), now)
        out = fa.update(reqs(r0=1.0, r1=0.9, r2=0.8), now, absent)
        held += any(a.operator_id == "h1" for a in out.assignments)
    assert held * 0.1 <= 11.0  # 5 cycles of ~2.1 s in 30 s, not 30 s


def test_a_streaming_operator_is_never_absent_and_the_check_can_be_off():
    first_absent, held_late = _run_presence(heard_every=0.1, until=20.0)
    assert first_absent is None and held_late  # it keeps serving
    presence = OperatorPresence(0.0, 5.0)
    assert presence.update([Assignment("h1", "r0", 0.0, 1.0)], 100.0) == (set(), [])


def test_an_operator_idle_for_long_and_given_a_robot_gets_the_full_timeout():
    presence = OperatorPresence(2.0, 5.0)
    presence.heard_from("h1", 0.0)
    assert presence.update([], 50.0) == (set(), [])  # idle: no robot, nothing to hear
    assert presence.update([Assignment("h1", "r0", 50.0, 1.0)], 51.0) == (set(), [])
    absent, newly = presence.update([Assignment("h1", "r2", 51.0, 1.0)], 52.5)  # moved: same busy period
    assert absent == {"h1"} and newly == [("h1", "r2", 2.5)]
    assert presence.update([], 57.6)[0] == set()  # retry_s later it may serve again


def test_an_operator_gets_robots_only_while_its_heartbeat_is_heard():
    """Not heard yet: off line, no robot (no absent flag either); on line once it beats; a stale beat
    takes it off line again and its robot goes to the other operator."""
    beats = OperatorHeartbeats(["h0", "h1"], timeout=2.0)
    fa = FleetAllocator(FleetConfig(["h0", "h1"], min_intervention=1.0))
    beats.beat("h0", 0.0)
    beats.beat("stranger", 0.0)  # not one of the allocator's operators: ignored
    offline, came, lost = beats.update(0.0)
    assert offline == {"h1"} and came == ["h0"] and lost == []
    out = fa.update(reqs(r0=1.0, r1=0.9), 0.0, offline)
    assert {a.operator_id: a.robot_id for a in out.assignments} == {"h0": "r0"}
    beats.beat("h0", 1.0)
    beats.beat("h1", 1.0)
    offline, came, _ = beats.update(1.0)
    assert offline == set() and came == ["h1"]
    out = fa.update(reqs(r0=1.0, r1=0.9), 1.0, offline)
    assert {a.operator_id: a.robot_id for a in out.assignments} == {"h0": "r0", "h1": "r1"}
    beats.beat("h0", 3.0)
    offline, came, lost = beats.update(3.5)  # h1 last beat at 1.0
    assert offline == {"h1"} and came == [] and lost == [("h1", 2.5)]
    out = fa.update(reqs(r0=1.0, r1=0.9), 3.5, offline)
    assert [a.operator_id for a in out.assignments] == ["h0"] and [a.operator_id for a in out.released] == ["h1"]
    assert beats.update(3.6)[2] == []  # reported once


def test_an_operator_beats_only_while_it_hears_the_allocator():
    """Soak run n's deaf operator: its beats told the allocator to hand it robots it never heard of."""
    gate = HeartbeatGate(started=100.0, silent_s=3.0)
    assert gate.update(101.0) == (False, None)  # not heard yet: no beat
    gate.heard(102.0)
    beat, line = gate.update(102.5)
    assert beat and "beating" in line
    assert gate.update(105.0) == (True, None)  # 3.0 s after the last assignment: still on
    beat, line = gate.update(105.2)
    assert not beat and "no /fleet/assignments for 3.2 s" in line
    assert gate.update(110.0) == (False, None)  # said once
    gate.heard(110.1)
    assert gate.update(110.2)[0]


def test_an_operator_never_hearing_the_allocator_says_so_once():
    gate = HeartbeatGate(started=0.0, silent_s=3.0)
    assert gate.update(15.0) == (False, None)
    beat, line = gate.update(15.5)
    assert not beat and "no /fleet/assignments in 15.5 s since the start" in line
    assert gate.update(30.0) == (False, None)


def test_heartbeats_off_keeps_every_operator_on_line():
    beats = OperatorHeartbeats(["h0", "h1"], timeout=0.0)
    assert beats.update(100.0) == (set(), [], [])
