"""ChunkScheduler / ObsHistory: every observation gets actions[0] = the action for now."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_policy.chunking import ChunkScheduler, ObsHistory, current_action, default_action_names


def test_history_pads_with_the_first_observation_then_slides():
    h = ObsHistory(3)
    h.push([1.0, 10.0])
    np.testing.assert_array_equal(h.array(), [[1, 10], [1, 10], [1, 10]])
    h.push([2.0, 20.0])
    np.testing.assert_array_equal(h.array()[:, 0], [1, 1, 2])
    for v in (3.0, 4.0):
        h.push([v, v * 10])
    np.testing.assert_array_equal(h.array()[:, 0], [2, 3, 4])
    h.reset()
    with pytest.raises(RuntimeError):
        h.array()


def test_history_rejects_bad_observations():
    h = ObsHistory(2)
    h.push([1.0, 2.0])
    with pytest.raises(ValueError, match="entries"):
        h.push([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        h.push([np.nan, 1.0])


def test_scheduler_replans_every_n_action_and_shifts_the_plan():
    s = ChunkScheduler(n_obs=2, n_action=3, horizon=5)
    calls = []
    published = []
    for t in range(8):
        if s.observe(np.array([float(t)])):
            calls.append(t)
            window = s.obs_window()
            # a fake policy: action k of a chunk planned at t is 100*t + k
            s.set_plan(np.array([[100.0 * t + k] for k in range(5)]), inference_time_ms=7.0)
            assert window.shape == (2, 1) and window[-1, 0] == t
        published.append(s.next())
    assert calls == [0, 3, 6]
    # actions[0] is always the action for the observation at hand
    firsts = [p.actions[0, 0] for p in published]
    assert firsts == [0, 1, 2, 300, 301, 302, 600, 601]
    assert [len(p.actions) for p in published] == [5, 4, 3, 5, 4, 3, 5, 4]
    assert [p.n_execute for p in published] == [3, 2, 1, 3, 2, 1, 3, 2]
    assert [p.replanned for p in published] == [True, False, False] * 2 + [True, False]
    assert published[0].inference_time_ms == 7.0 and published[1].inference_time_ms == 0.0


def test_scheduler_reset_forgets_plan_and_history():
    s = ChunkScheduler(n_obs=2, n_action=4, horizon=4)
    assert s.observe([1.0])
    s.set_plan(np.zeros((4, 2)))
    s.next()
    assert not s.observe([2.0])
    s.reset()
    assert s.observe([5.0])  # new episode: plan again, history restarted
    np.testing.assert_array_equal(s.obs_window()[:, 0], [5.0, 5.0])


def test_scheduler_rejects_bad_chunks_and_misuse():
    s = ChunkScheduler(n_obs=1, n_action=2, horizon=3)
    with pytest.raises(RuntimeError):
        s.next()
    with pytest.raises(ValueError, match="chunk"):
        s.set_plan(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        s.set_plan(np.full((3, 2), np.inf))
    with pytest.raises(ValueError):
        ChunkScheduler(n_obs=1, n_action=4, horizon=3)


def test_current_action_from_named_observation_entries():
    names = ["x", "y", "z", "yaw", "gripper", "obj_x"]
    data = np.array([0.4, 0.1, 0.3, 0.2, 0.7, 9.0])
    got = current_action(default_action_names(5), names, data, np.zeros((1, 7)), np.zeros(1))
    np.testing.assert_allclose(got, [0.4, 0.1, 0.3, 0.2, 0.7])


def test_current_action_falls_back_to_ee_poses():
    half = np.sin(0.25)  # yaw 0.5 rad about z
    poses = np.array([[1, 2, 3, 0, 0, half, np.cos(0.25)], [4, 5, 6, 0, 0, 0, 1]])
    got = current_action(default_action_names(10), ["a", "b"], np.zeros(2), poses, np.array([0.1, 0.9]))
    np.testing.assert_allclose(got, [1, 2, 3, 0.5, 0.1, 4, 5, 6, 0, 0.9], atol=1e-9)
    four = current_action(default_action_names(4), [], [], poses[:1], [0.3])
    np.testing.assert_allclose(four, [1, 2, 3, 0.3])
    assert default_action_names(3) == ["a0", "a1", "a2"]
