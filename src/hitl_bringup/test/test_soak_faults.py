"""The soak's pure logic (hitl_bringup/soak_faults.py): memory growth per half of the run, which
faults are due, the robot graphs' CPU priority, the table of runs."""

from __future__ import annotations

import json
import subprocess
import sys

from hitl_bringup.soak_faults import (
    Fault,
    due_faults,
    handed_on,
    niced,
    parse_schedule,
    robot_keys,
    rss_growth,
    runs_table,
)


def test_rss_growth_compares_the_two_halves_of_the_run():
    samples = [{"t": 0.0, "rss_kb": {"a": 100, "b": 100, "killed": 50}},
               {"t": 300.0, "rss_kb": {"a": 140, "b": 110, "killed": 10}},
               {"t": 600.0, "rss_kb": {"a": 150, "b": 112, "killed": 90}},
               {"t": 1200.0, "rss_kb": {"a": 151, "b": 130}}]
    g = rss_growth(samples, skip={"killed"})
    assert g["nodes"] == 2 and g["mid_t"] == 600.0
    assert g["first_half"] == {"median": 31, "max": 50} and g["second_half"] == {"median": 9, "max": 18}
    assert rss_growth(samples[:2], set()) == {}


def test_a_waiting_operator_fault_does_not_hold_up_the_others():
    F = Fault
    queue = [F(10.0, "drop_operator"), F(20.0, "kill_recorder"), F(30.0, "kill_device"), F(40.0, "kill_policy")]
    assert due_faults(queue, 5.0) == []
    assert due_faults(queue, 25.0) == queue[:2]  # the drop still waits; the recorder's kill goes on
    assert due_faults(queue, 45.0) == [queue[0], queue[1], queue[3]]  # one operator fault at a time
    assert due_faults(queue[1:], 45.0) == queue[1:]


def test_robot_nice_lowers_only_the_robot_graphs_priority_but_the_arbiters():
    show = [sys.executable, "-c", "import os; print(os.nice(0))"]
    commands = {"robot_0/policy": show, "robot_1/arbiter": show, "robot_1/sim": show, "fleet_allocator": show,
                "operator_0": show}
    keys = robot_keys(commands)
    assert keys == ["robot_0/policy", "robot_1/sim"]
    base = int(subprocess.run(show, capture_output=True, text=True, check=True).stdout)
    reniced = niced(commands, keys, 7)
    seen = {k: int(subprocess.run(c, capture_output=True, text=True, check=True).stdout) for k, c in reniced.items()}
    assert seen == {"robot_0/policy": base + 7, "robot_1/arbiter": base, "robot_1/sim": base + 7,
                    "fleet_allocator": base, "operator_0": base}
    assert niced(commands, keys, 0) == commands


def test_the_default_schedule_spreads_every_kind_evenly():
    faults = parse_schedule("", duration=1200.0, robots=8)
    assert len(faults) == 40 and [f.kind for f in faults[:4]] == ["kill_policy", "kill_device", "kill_recorder",
                                                                  "drop_operator"]
    assert faults[0].at_s == round(1170 / 41, 1)
    assert faults[-1].at_s <= 1200 - 30 - 28  # every fault can wait ~one step for a driving operator
    assert [f.at_s for f in parse_schedule("40:drop_operator,20:kill_policy", 60.0, 2)] == [20.0, 40.0]


def test_runs_table_names_robots_that_never_ran_an_episode(tmp_path):
    kinds = {"kill_policy": {"injected": 2, "detected": 2, "held_ok": 1},
             "drop_operator": {"injected": 1, "detected": 1, "held_ok": 1, "reassigned": 1}}
    run = {"robots": 2, "operators": 1, "duration_s": 600.0,
           "summary": {"faults": kinds, "episodes_run": 30, "episodes_in_bags": 29, "lost_outside_recorder_gap": 0,
                       "rss_growth_kb": {"second_half": {"median": 2048}}},
           "bags": {"robot_0": {"episodes_run": 0}, "robot_1": {"episodes_run": 30}},
           "operators_away_s": {"operator_1": 20.4, "operator_0": 3.0}}
    path = tmp_path / "soak_x.json"
    path.write_text(json.dumps(run))
    head, rule, row = runs_table([path]).splitlines()
    assert row.count("|") == head.count("|") == rule.count("|")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["soak_x", "2 x 1", "600", "3", "3", "1/2", "-", "1/1", "1/1", "30 / 29 / 0", "2.0", "3 / 20",
                     "robot_0"]


def test_handed_on_follows_every_robot_the_dead_operator_was_given():
    """Soak run m: the allocator moved the dropped operator from robot_3 to robot_1 and robot_5 before it
    found it absent; robot_5 then went to the other operator, robot_3 only later (busy), robot_1 never."""
    msgs = [(10.0, {"robot_3": "op_1", "robot_2": "op_0"}),
            (11.0, {"robot_1": "op_1", "robot_2": "op_0"}),   # the kill was at 10.5
            (12.0, {"robot_5": "op_1", "robot_2": "op_0"}),
            (13.0, {"robot_2": "op_0"}),                      # found absent, released
            (15.0, {"robot_5": "op_0"}),
            (40.0, {"robot_3": "op_0"})]
    assert handed_on(msgs, "op_1", t_kill=10.5, end=30.0) == {"robot_1": "", "robot_3": "", "robot_5": "op_0"}
    assert handed_on(msgs, "op_1", t_kill=10.5, end=45.0)["robot_3"] == "op_0"
    assert handed_on(msgs, "op_0", t_kill=14.0, end=45.0) == {"robot_2": "", "robot_3": "", "robot_5": ""}
    assert handed_on([], "op_1", 0.0, 1.0) == {}
