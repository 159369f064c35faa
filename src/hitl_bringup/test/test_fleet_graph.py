"""The fleet graph (fleet_size:=N operators:=M): N robot graphs, M simulated operators, one allocator;
the runner keeps the repeated node names apart; the live table renders a FleetStatus."""

from __future__ import annotations

import types

import pytest
from hitl_bringup.graph import GraphError, build_graph
from hitl_bringup.runner import GraphRunner


def fleet(**kw):
    args = dict(arm="franka", sim="true", task="nav", policy="ebm", checkpoint="c.pt", threshold="0.5",
                record="true", fleet_size="8", operators="2")
    args.update(kw)
    return build_graph(**args)


def test_eight_robots_two_operators_and_the_allocator():
    specs = fleet()
    robots = {f"/robot_{i}" for i in range(8)}
    per_robot = [s for s in specs if s.namespace in robots]
    assert len(per_robot) == 8 * 5
    for ns in robots:
        assert sorted(s.name for s in per_robot if s.namespace == ns) == [
            "arbiter", "policy", "recorder", "sim_arm", "uncertainty"]  # no device of its own
    by_ns = {s.namespace: s for s in per_robot if s.name == "sim_arm"}
    assert by_ns["/robot_3"].parameters["robot_id"] == "robot_3" and by_ns["/robot_3"].parameters["seed"] == 3
    rec = next(s for s in per_robot if s.name == "recorder" and s.namespace == "/robot_5")
    assert rec.parameters["output"].endswith("robot_5")
    ops = [s for s in specs if s.executable == "sim_operator_node"]
    assert [o.name for o in ops] == ["operator_0", "operator_1"]
    assert all(o.parameters["fleet"] is True for o in ops)
    assert [o.parameters["style"] for o in ops] == [0, 1]  # heterogeneous operators
    alloc = [s for s in specs if s.name == "fleet_allocator"]
    assert len(alloc) == 1
    assert alloc[0].parameters["robot_ids"] == [f"robot_{i}" for i in range(8)]
    assert alloc[0].parameters["operator_ids"] == ["operator_0", "operator_1"]


def test_per_robot_arms_and_errors():
    specs = fleet(fleet_size="2", fleet_arms="franka,widowx")
    arms = {s.namespace: s.parameters["arm"] for s in specs if s.name == "sim_arm"}
    assert arms == {"/robot_0": "franka", "/robot_1": "widowx"}
    with pytest.raises(GraphError, match="one per robot"):
        fleet(fleet_size="3", fleet_arms="franka,widowx")
    with pytest.raises(GraphError, match="one task"):
        fleet(fleet_size="2", fleet_tasks="nav,lift")
    with pytest.raises(GraphError, match="a real device"):
        fleet(operator_device="console")
    with pytest.raises(GraphError, match=">= 1"):
        fleet(operators="0")


@pytest.mark.parametrize("device,nodes", [("spacemouse", ["spacemouse"]), ("joy", ["joy", "joy_teleop"]),
                                          ("keyboard", ["keyboard"]), ("trakstar", ["trakstar"])])
def test_real_operator_devices_each_with_a_router_to_the_assigned_robot(device, nodes):
    specs = fleet(operator_device=device, fleet_size="3", operators="2")
    assert not [s for s in specs if s.executable == "sim_operator_node"]
    for j in range(2):
        ns = f"/operator_{j}"
        mine = {s.name: s for s in specs if s.namespace == ns}
        assert sorted(mine) == sorted([*nodes, "teleop_router"])  # no robot nodes in an operator's namespace
        assert mine["teleop_router"].parameters == {"operator_id": f"operator_{j}"}
        assert mine[nodes[-1]].parameters["operator_id"] == f"operator_{j}"
    alloc = next(s for s in specs if s.name == "fleet_allocator")
    assert alloc.parameters["operator_ids"] == ["operator_0", "operator_1"]
    assert len([s for s in specs if s.name == "sim_arm"]) == 3


def test_runner_keeps_repeated_names_apart(tmp_path):
    runner = GraphRunner(fleet(), workdir=tmp_path, echo=False)
    commands = runner.prepare()
    assert len(commands) == 8 * 5 + 3
    assert "robot_7/sim_arm" in commands and "fleet_allocator" in commands
    assert len({str(p) for p in (tmp_path / "params").iterdir()}) == len(commands)
    single = GraphRunner(build_graph(checkpoint="c.pt", threshold="0.5", task="nav", namespace="robot_0"),
                         workdir=tmp_path / "one", echo=False)
    assert "sim_arm" in single.prepare()  # one robot: plain names, as before


def test_live_table_rows():
    from hitl_bringup.fleet_table import render, status_rows

    stamp = types.SimpleNamespace(sec=100, nanosec=0)
    a = types.SimpleNamespace(operator_id="operator_0", robot_id="robot_3", priority=0.9, assigned=True,
                              min_duration=1.0, header=types.SimpleNamespace(stamp=stamp))
    msg = types.SimpleNamespace(assignments=[a], operators_idle=["operator_1"], operators_away=["operator_2"],
                                queue_robots=["robot_1"],
                                queue_priorities=[0.7], queue_hard_reset=[True], queue_waiting_s=[2.5],
                                successes=4, hard_resets=1, handovers=3, human_s=12.0, rohe=0.05)
    rows = status_rows(msg, now=101.5)
    assert rows["serving"][0]["held_s"] == pytest.approx(1.5)
    assert rows["queue"] == [{"robot": "robot_1", "priority": 0.7, "hard_reset": True, "waiting_s": 2.5}]
    assert rows["idle"] == ["operator_1"] and rows["away"] == ["operator_2"]
    table = render(rows)
    assert table.row_count == 3 and "ROHE 0.050" in str(table.title)
