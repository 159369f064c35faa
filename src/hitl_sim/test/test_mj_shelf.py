"""Reusing built MuJoCo tasks (hitl_sim/mj/shelf.py): same episodes as fresh tasks, bounded, off by default."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_sim.mj import shelf

import hitl_sim

pytest.importorskip("mujoco")


@pytest.fixture
def shelf_on():
    shelf.keep_built_tasks(4)
    yield
    shelf.keep_built_tasks(0)


def _episode(task: str, seed: int, steps: int, variant: str = "train") -> tuple[np.ndarray, list[int]]:
    """Observations of one robot driven by the noisy expert, and the ids of the tasks it ran on."""
    with hitl_sim.make_env(task, "franka", num_envs=1, variant=variant, seed=seed) as env:
        expert = hitl_sim.make_expert(task, noise=0.01, seed=seed)
        obs, trace = env.observe(), [env.observe()[0].copy()]
        for _ in range(steps):
            obs, _ = env.step(expert.act(env.get_state(), obs))
            trace.append(obs[0].copy())
        return np.array(trace), [id(t) for t in env.tasks]


def test_off_by_default_closes_tasks(point_task):
    env = hitl_sim.make_env(point_task, "franka", num_envs=2, seed=0)
    closed = []
    for task in env.tasks:
        task.close = (lambda t=task: closed.append(id(t)))
    ids = [id(t) for t in env.tasks]
    env.close()
    env.close()  # a second close closes nothing twice
    assert shelf.idle_count() == 0 and env.tasks == [] and closed == ids


def test_a_reused_task_plays_the_same_episode(point_task, shelf_on):
    fresh, first_ids = _episode(point_task, seed=3, steps=40)
    assert shelf.idle_count() == 1
    _, other_ids = _episode(point_task, seed=5, steps=25)  # another episode on the same task object
    again, again_ids = _episode(point_task, seed=3, steps=40)
    assert first_ids == other_ids == again_ids
    assert np.array_equal(fresh, again)


def test_kinds_do_not_mix_and_the_shelf_is_bounded(point_task, shelf_on):
    closed = []
    envs = [hitl_sim.make_env(point_task, "franka", num_envs=3, seed=s) for s in range(2)]
    for env in envs:
        for task in env.tasks:
            task.close = (lambda t=task: closed.append(id(t)))
    ids = [id(t) for env in envs for t in env.tasks]
    for env in envs:
        env.close()
    assert shelf.idle_count() == 4 and closed == ids[:2]  # the two idle longest were closed
    with hitl_sim.make_env(point_task, "widowx", num_envs=1, seed=0) as other_arm:
        assert id(other_arm.tasks[0]) not in ids
    with hitl_sim.make_env(point_task, "franka", num_envs=1, seed=0) as same:
        assert id(same.tasks[0]) in ids[2:]
    shelf.keep_built_tasks(0)
    assert shelf.idle_count() == 0 and len(closed) == 6


def test_hard_reset_still_builds_a_new_task(point_task, shelf_on):
    with hitl_sim.make_env(point_task, "franka", num_envs=1, seed=0) as env:
        before = env.tasks[0]
        env.reset([0], seeds=[2], hard=True)
        assert env.tasks[0] is not before


def test_a_reused_robosuite_task_plays_the_same_episode(shelf_on):
    """robosuite's lift: a task that ran another episode replays seed 3 exactly as when it was new."""
    pytest.importorskip("robosuite")
    fresh, first_ids = _episode("lift", seed=3, steps=20, variant="test")
    _episode("lift", seed=8, steps=30, variant="test")
    again, again_ids = _episode("lift", seed=3, steps=20, variant="test")
    assert first_ids == again_ids
    assert np.array_equal(fresh, again)


def test_negative_limit_is_refused():
    with pytest.raises(ValueError, match="limit"):
        shelf.keep_built_tasks(-1)
