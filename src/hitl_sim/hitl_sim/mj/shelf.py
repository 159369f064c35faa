"""Built MuJoCo tasks kept for the next env of the same kind in this process (opt-in).

Building a robosuite task compiles its MJCF twice (~1.1 s of CPU) and closing it runs a full garbage
collection (~0.25 s); resetting a built one takes ~5 ms. A process that makes many short-lived envs
(an evaluation worker: one per rollout batch) spent about 40 % of its time there. With the shelf on,
``MjVecEnv`` takes idle tasks of the same (task class, arm profile, variant) from it and gives them back
on ``close()`` instead of destroying them. An episode depends only on the robot's generator
(``MjTask.reset(rng)`` draws everything from it, the same contract that makes a hard reset reproduce
a soft one), so a reused task plays the same episodes as a fresh one; test_mj_shelf.py checks it on
robosuite's lift.

A robosuite task holds 130-190 MB, so the shelf keeps at most ``limit`` idle tasks and closes the
ones idle longest beyond that. Off by default: nodes and tests build their one env and keep it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from hitl_sim.mj.base import MjTask

_idle: OrderedDict[int, tuple[Hashable, MjTask]] = OrderedDict()  # insertion order: longest idle first
_limit = 0
_counter = 0


def keep_built_tasks(limit: int) -> None:
    """Turn the shelf on with room for ``limit`` idle tasks (0 turns it off and closes what it holds)."""
    global _limit
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    _limit = int(limit)
    _trim()


def take(key: Hashable | None, build: Callable[[], MjTask]) -> MjTask:
    """An idle task of kind ``key`` from the shelf, or a new one from ``build``."""
    if key is not None and _limit > 0:
        for slot, (k, task) in _idle.items():
            if k == key:
                del _idle[slot]
                return task
    return build()


def give_back(key: Hashable | None, task: MjTask) -> None:
    """Keep ``task`` for the next env of kind ``key`` (close it when the shelf is off or ``key`` is None)."""
    global _counter
    if key is None or _limit == 0:
        task.close()
        return
    _counter += 1
    _idle[_counter] = (key, task)
    _trim()


def idle_count() -> int:
    return len(_idle)


def limit() -> int:
    """How many idle tasks the shelf keeps (0: off)."""
    return _limit


def _trim() -> None:
    while len(_idle) > _limit:
        _, (_, task) = _idle.popitem(last=False)
        task.close()
