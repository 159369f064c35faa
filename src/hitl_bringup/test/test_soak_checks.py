"""The soak's own checks (bench/soak.py), without a graph.

The stalled-allocator check (``Soak.check_allocator``): robots asking for help for STALL_S with nobody
served sends the allocator SIGUSR1 once per stall (its stacks land in its log) and records the stall;
a robot that only starts asking after a quiet spell is not a stall (run e's false alarm at start-up);
serving again ends the stall. An operator fault that is due while nobody drives a robot waits for one
instead of being dropped (run e lost 7 of 40 faults so). The pure logic: test_soak_faults.py."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from hitl_core.ros.testing import poll

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import faulthandler, signal, sys, time
dumps = open(sys.argv[1], "w")
faulthandler.register(signal.SIGUSR1, file=dumps, all_threads=True)
print("READY", flush=True)
time.sleep(120)
"""


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak_bench", ROOT / "bench" / "soak.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


class FakeWatch:
    def __init__(self) -> None:
        self.served: dict[str, str] = {}
        self.asking = {"robot_0": True, "robot_1": False}

        self.driving: dict[str, str] = {}  # robot -> the operator driving it (HUMAN, not holding)
        self.CS = SimpleNamespace(SOURCE_HUMAN=2)

    def serving(self) -> dict[str, str]:
        return dict(self.served)

    def last_state(self, robot: str, max_age_s: float | None = None):
        op = self.driving.get(robot, "")
        return SimpleNamespace(help_requested=self.asking.get(robot, False), source=2 if op else 1,
                               SOURCE_HUMAN=2, holding=False, operator_id=op)

    def allocator_alive(self, now: float) -> dict:
        return {"assignment_msgs": 0, "last_assignment_age_s": 42.0}

    def fleet_view(self) -> dict:
        return {"status_age_s": 0.1, "operators_idle": [], "operators_away": ["op_1"], "queue": ["robot_0"]}


def _wait_for_dumps(path: Path, n: int) -> None:
    """The handler runs when the child gets the CPU (a loaded machine): wait for its n-th dump."""
    poll(lambda: path.read_text().count("most recent call first") >= n, 60, 0.05)


def test_a_stalled_allocator_is_sent_sigusr1_once_per_stall_and_recorded(tmp_path):
    soak = _soak_module()
    dumps = tmp_path / "stacks.txt"
    allocator = subprocess.Popen([sys.executable, "-c", CHILD, str(dumps)], stdout=subprocess.PIPE, text=True)
    try:
        assert allocator.stdout.readline().strip() == "READY"
        s = soak.Soak(argparse.Namespace(seed=0, robots=2, schedule="", duration=60.0))
        s.watch, s.runner = FakeWatch(), SimpleNamespace(procs={"fleet_allocator": allocator})
        s.t_run = s.last_served = 1000.0
        stalls: list[dict] = []
        s.watch.asking["robot_0"] = False
        s.check_allocator(1100.0, stalls)  # quiet: nobody asks, nobody served
        s.watch.asking["robot_0"] = True
        s.check_allocator(1101.0, stalls)  # starts asking after the quiet spell: not a stall
        s.check_allocator(1101.0 + soak.STALL_S - 1, stalls)
        assert stalls == []
        s.check_allocator(1101.0 + soak.STALL_S + 1, stalls)
        s.check_allocator(1101.0 + soak.STALL_S + 30, stalls)  # the same stall: no second signal
        assert len(stalls) == 1
        assert stalls[0]["asking"] == ["robot_0"] and stalls[0]["allocator_running"]
        assert stalls[0]["last_assignment_age_s"] == 42.0 and stalls[0]["t"] == 101.0 + soak.STALL_S + 1
        assert stalls[0]["operators_away"] == ["op_1"] and stalls[0]["queue"] == ["robot_0"]  # the allocator's view
        _wait_for_dumps(dumps, 1)  # a second signal before the first is handled would merge with it
        s.watch.served = {"robot_0": "operator_0"}  # serving again: the stall is over
        s.check_allocator(1300.0, stalls)
        s.watch.served = {}
        s.check_allocator(1301.0, stalls)
        s.check_allocator(1301.0 + soak.STALL_S + 1, stalls)
        assert len(stalls) == 2
        _wait_for_dumps(dumps, 2)
    finally:
        allocator.kill()
        allocator.wait(timeout=30)
    text = dumps.read_text()
    assert text.count("most recent call first") == 2 and "<module>" in text, text  # one dump per stall


def test_an_operator_fault_waits_for_an_operator_driving_a_robot(tmp_path):
    soak = _soak_module()
    s = soak.Soak(argparse.Namespace(seed=0, robots=2, schedule="", duration=60.0, rejoin_s=20.0, restart_s=5.0))
    operator = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        s.watch, s.runner = FakeWatch(), SimpleNamespace(procs={"operator_1": operator})
        fault = soak.Fault(at_s=10.0, kind="drop_operator")
        assert s.inject(fault, waited_s=5.0, last_chance=False) is False  # nobody drives: wait, kill nothing
        assert fault.t_kill == 0.0 and operator.poll() is None and fault.note == ""
        s.watch.served = {"robot_1": "operator_1"}
        s.watch.driving = {"robot_1": "operator_1"}
        assert s.inject(fault, waited_s=7.5, last_chance=False) is True
        assert operator.wait(timeout=30) == -9 and fault.target == "operator_1" and fault.robot == "robot_1"
        assert fault.waited_s == 7.5 and s.dropped == {"operator_1": fault.t_kill}
        assert s.pending == [(fault.t_kill + 20.0, "operator_1", fault)]  # back after rejoin_s
    finally:
        operator.kill()
        operator.wait(timeout=30)
    late = soak.Fault(at_s=10.0, kind="kill_device")
    s.watch.driving = {}
    assert s.inject(late, waited_s=120.0, last_chance=True) is True  # given up, said why
    assert late.t_kill == 0.0 and "not injected" in late.note and "120 s" in late.note


def test_a_node_killed_and_not_back_yet_is_not_picked_by_a_second_fault(tmp_path):
    """Soak run j: a device kill and a drop hit operator_0 0.2 s apart; both restarts then started a process
    named operator_0, and the untracked one kept driving robots after later kills of "operator_0"."""
    soak = _soak_module()
    s = soak.Soak(argparse.Namespace(seed=0, robots=2, schedule="", duration=60.0, rejoin_s=20.0, restart_s=5.0))
    operator = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        s.watch, s.runner = FakeWatch(), SimpleNamespace(procs={"operator_1": operator})
        s.watch.served = s.watch.driving = {"robot_1": "operator_1"}  # the states still show it driving
        first = soak.Fault(at_s=10.0, kind="kill_device")
        assert s.inject(first, last_chance=False) is True and operator.wait(timeout=30) == -9
        second = soak.Fault(at_s=10.2, kind="drop_operator")
        assert s.inject(second, last_chance=False) is False and second.t_kill == 0.0  # waits for another
        assert s.down() == {"operator_1"}
    finally:
        operator.kill()
        operator.wait(timeout=30)
    # a restart due while the node runs again already (started by an earlier restart) starts nothing
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started: list = []
        s.runner = SimpleNamespace(procs={"operator_1": alive}, lines={}, _start=started.append)
        s.pending = [(0.0, "operator_1", first)]
        s.restart_due(1.0)
        assert started == [] and "not started twice" in first.note and s.pending == []
    finally:
        alive.kill()
        alive.wait(timeout=30)
