"""/fleet/status tells an idle operator (present, no robot) from an away one (off line or gone silent): a
queue beside "idle" operators would otherwise read as an allocator that serves nobody for no reason."""

from __future__ import annotations

from hitl_core.ros.testing import ros_imports

with ros_imports():
    from hitl_teleop import ros_conversions as rc

from hitl_teleop.fleet import FleetAllocator, FleetConfig, FleetLedger, RobotRequest


def test_away_operators_are_listed_apart_from_idle_ones():
    cfg = FleetConfig(["h0", "h1", "h2"], min_intervention=1.0)
    fa, ledger = FleetAllocator(cfg), FleetLedger(3, 3)
    reqs = [RobotRequest("r0", 0.9, False, True), RobotRequest("r1", 0.8, False, True),
            RobotRequest("r2", 0.0, False, False)]
    alloc = fa.update(reqs, now=5.0, absent={"h1", "h2"})
    ledger.update(alloc, 5.0)
    msg = rc.fleet_status_msg(alloc, {r.robot_id: r for r in reqs}, ledger, cfg, 5.0)
    assert [(a.operator_id, a.robot_id) for a in msg.assignments] == [("h0", "r0")]
    assert list(msg.operators_away) == ["h1", "h2"] and list(msg.operators_idle) == []
    assert list(msg.queue_robots) == ["r1"]
    alloc = fa.update(reqs[:1], now=7.0)  # everyone back, one robot asking
    msg = rc.fleet_status_msg(alloc, {"r0": reqs[0]}, ledger, cfg, 7.0)
    assert list(msg.operators_idle) == ["h1", "h2"] and list(msg.operators_away) == []

