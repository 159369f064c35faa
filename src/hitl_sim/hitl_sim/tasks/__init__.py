"""Task registry: name -> Task class."""

from __future__ import annotations

from hitl_sim.tasks.base import OBJECTS, Expert, Task
from hitl_sim.tasks.manip import CubeStack, CupStack, Lift, Threading
from hitl_sim.tasks.others import Drawer, Nav, Push3

TASKS: dict[str, type[Task]] = {c.name: c for c in (Lift, Drawer, CupStack, Push3, Nav, Threading, CubeStack)}


def task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name]


__all__ = ["OBJECTS", "TASKS", "Expert", "Task", "task_class"]
