"""Safety filter: NaN/inf rejection, workspace and per-tick speed clamps from the arm profiles."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_sim.arms import ARM_NAMES, load_arm_profile
from hitl_teleop.safety import (
    SafetyFilter,
    all_finite,
    clamp_rotation_step,
    clamp_step,
    clamp_workspace,
    normalize_quaternions,
)


@pytest.mark.parametrize("arm", ARM_NAMES)
def test_workspace_clamp_per_profile(arm):
    p = load_arm_profile(arm)
    inside = p.home.copy()
    out, clamped = clamp_workspace(inside, p)
    assert not clamped and np.array_equal(out, inside)
    far = p.home + 10.0
    out, clamped = clamp_workspace(far, p)
    assert clamped and np.allclose(out, np.broadcast_to(p.workspace_max, far.shape))
    low = p.home - 10.0
    out, clamped = clamp_workspace(low, p)
    assert clamped and np.allclose(out, np.broadcast_to(p.workspace_min, low.shape))


def test_step_clamp_keeps_direction_and_length():
    ref = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    tgt = np.array([[0.3, 0.4, 0.0], [1.0, 1.0, 1.01]])
    out, clamped = clamp_step(tgt, ref, 0.05)
    assert clamped
    np.testing.assert_allclose(out[0], [0.03, 0.04, 0.0])
    np.testing.assert_allclose(out[1], tgt[1])  # within the limit: unchanged
    _, clamped = clamp_step(tgt[1:], ref[1:], 0.05)
    assert not clamped


def test_rotation_step_clamp():
    ident = np.array([[0.0, 0.0, 0.0, 1.0]])
    half_turn_z = np.array([[0.0, 0.0, 1.0, 0.0]])
    out, clamped = clamp_rotation_step(half_turn_z, ident, 0.1)
    assert clamped
    assert 2 * np.arccos(abs(out[0, 3])) == pytest.approx(0.1)
    assert out[0, 2] > 0  # rotated about +z, toward the target
    out, clamped = clamp_rotation_step(ident, ident, 0.1)
    assert not clamped


def test_zero_quaternion_is_identity():
    q = normalize_quaternions(np.zeros(4))
    np.testing.assert_allclose(q, [[0, 0, 0, 1]])


def test_filter_rejects_nan_and_inf():
    p = load_arm_profile("franka")
    f = SafetyFilter(p)
    assert not f.apply(np.array([[np.nan, 0, 0.3]]), np.zeros(1), p.home).ok
    assert not f.apply(p.home, np.array([np.inf]), p.home).ok
    assert not f.apply(p.home, np.zeros(1), p.home, orientations=np.array([[0, 0, np.nan, 1]])).ok
    assert all_finite(p.home, None) and not all_finite(p.home, np.array([np.inf]))


def test_filter_clamps_workspace_then_speed_and_gripper():
    p = load_arm_profile("widowx")
    f = SafetyFilter(p)
    res = f.apply(np.array([[2.0, 0.0, 0.2]]), np.array([1.7]), p.home)
    assert res.ok and res.clamped
    assert np.linalg.norm(res.positions[0] - p.home[0]) == pytest.approx(p.max_step())
    assert res.gripper[0] == 1.0
    assert any("workspace" in n for n in res.notes)
    res = f.apply(p.home + np.array([[0.001, 0, 0]]), np.array([0.5]), p.home)
    assert res.ok and not res.clamped and res.notes == []


def test_filter_dt_override_changes_step():
    p = load_arm_profile("franka")
    f = SafetyFilter(p, dt=0.02)
    res = f.apply(p.home + np.array([[0.5, 0, 0]]), np.zeros(1), p.home)
    assert np.linalg.norm(res.positions[0] - p.home[0]) == pytest.approx(p.max_linear_speed * 0.02)
