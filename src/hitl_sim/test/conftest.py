"""Fixtures shared by hitl_sim's MuJoCo tests."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def point_task(monkeypatch):
    """Register the test's point task, mj_point_task.py (this process; pool workers get it from sys.path)."""
    pytest.importorskip("mujoco")
    from hitl_sim.mj import MJ_TASKS

    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setitem(MJ_TASKS, "point", "mj_point_task:PointTask:PointExpert")
    return "point"
