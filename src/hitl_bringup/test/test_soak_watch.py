"""The soak watcher's latest state per robot (hitl_bringup/ros/soak_watch.py), without ROS: a fault's target
is chosen only from states that came within FRESH_STATE_S (soak run o dropped an operator by a state
11.8 s old, taken while the VM was paused)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from hitl_bringup.ros.soak_watch import Watch


def _watch(states: dict[str, list[tuple[float, object]]]) -> Watch:
    watch = Watch.__new__(Watch)  # the stores only: no ROS context
    watch.lock, watch.states = threading.Lock(), states
    return watch


def test_last_state_older_than_max_age_is_none():
    now = time.time()
    fresh, stale = SimpleNamespace(source=2), SimpleNamespace(source=2)
    watch = _watch({"robot_0": [(now - 20.0, stale), (now - 0.1, fresh)], "robot_1": [(now - 11.8, stale)],
                    "robot_2": []})
    assert watch.last_state("robot_0", 0.5) is fresh
    assert watch.last_state("robot_1") is stale  # no age limit: the latest whatever its age
    assert watch.last_state("robot_1", 0.5) is None
    assert watch.last_state("robot_2") is None and watch.last_state("robot_2", 0.5) is None
