"""The soak's stalled-allocator check (bench/soak.py ``Soak.check_allocator``), without a graph: robots
asking for help and nobody served for STALL_S sends the allocator SIGUSR1 once per stall (its stacks
land in its log) and records the stall; serving again ends the stall."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import faulthandler, signal, sys, time
faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
print("READY", flush=True)
time.sleep(60)
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

    def serving(self) -> dict[str, str]:
        return dict(self.served)

    def last_state(self, robot: str):
        return SimpleNamespace(help_requested=self.asking[robot])

    def allocator_alive(self, now: float) -> dict:
        return {"assignment_msgs": 0, "last_assignment_age_s": 42.0}


def test_a_stalled_allocator_is_sent_sigusr1_once_per_stall_and_recorded():
    soak = _soak_module()
    allocator = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    try:
        assert allocator.stdout.readline().strip() == "READY"
        s = soak.Soak(argparse.Namespace(seed=0, robots=2, schedule="", duration=60.0))
        s.watch, s.runner = FakeWatch(), SimpleNamespace(procs={"fleet_allocator": allocator})
        s.t_run, s.last_served, s.stalled = 1000.0, 1000.0, False
        stalls: list[dict] = []
        s.check_allocator(1000.0 + soak.STALL_S - 1, stalls)
        assert stalls == []  # not yet
        s.check_allocator(1000.0 + soak.STALL_S + 1, stalls)
        s.check_allocator(1000.0 + soak.STALL_S + 30, stalls)  # the same stall: no second signal
        assert len(stalls) == 1
        assert stalls[0]["asking"] == ["robot_0"] and stalls[0]["allocator_running"]
        assert stalls[0]["last_assignment_age_s"] == 42.0 and stalls[0]["t"] == soak.STALL_S + 1
        s.watch.served = {"robot_0": "operator_0"}  # serving again: the stall is over
        s.check_allocator(1200.0, stalls)
        s.watch.served = {}
        s.check_allocator(1200.0 + soak.STALL_S + 1, stalls)
        assert len(stalls) == 2
    finally:
        allocator.kill()
        _, err = allocator.communicate(timeout=30)
    assert err.count("most recent call first") >= 2 and "<module>" in err, err  # two dumps: the stacks
