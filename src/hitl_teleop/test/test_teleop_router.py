"""Pure logic of the fleet's teleop router (hitl_teleop/teleop_router.py)."""

from __future__ import annotations

from hitl_teleop.teleop_router import RouteChange, TeleopRouter, robots_in


def test_samples_follow_the_operators_assignment_and_are_dropped_without_one():
    r = TeleopRouter("operator_1")
    assert r.route() is None and r.dropped == 1
    assert r.on_assignments([("operator_0", "robot_0", True), ("operator_1", "robot_2", True)]) == \
        RouteChange(released=None, assigned="robot_2")
    assert r.route() == "robot_2" and r.route() == "robot_2"
    # the same assignment again (the allocator republishes): no change
    assert r.on_assignments([("operator_1", "robot_2", True)]) is None
    # moved to another robot: the previous one is released
    assert r.on_assignments([("operator_1", "robot_5", True)]) == RouteChange(released="robot_2", assigned="robot_5")
    assert r.route() == "robot_5"
    # released (assigned=false, or absent from the message): samples are dropped again
    assert r.on_assignments([("operator_1", "robot_5", False)]) == RouteChange(released="robot_5", assigned=None)
    assert r.route() is None
    assert r.forwarded == {"robot_2": 2, "robot_5": 1} and r.dropped == 2


def test_other_operators_assignments_are_ignored():
    r = TeleopRouter("operator_0")
    assert r.on_assignments([("operator_1", "robot_0", True)]) is None
    assert r.route() is None


def test_robots_in_names_every_assigned_and_waiting_robot_once():
    assert robots_in(["robot_1", "/robot_0/"], ["robot_5", "robot_1", "", "/"]) == ["robot_0", "robot_1", "robot_5"]
    assert robots_in([], []) == []
