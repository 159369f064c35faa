"""trakSTAR mapper: synthetic pose streams in, clutched, rate-limited deltas out."""

import numpy as np
import pytest
from hitl_teleop.devices.trakstar import TrakstarConfig, TrakstarMapper
from scipy.spatial.transform import Rotation

QI = np.array([0.0, 0.0, 0.0, 1.0])


def integrate(samples):
    p, R = np.zeros(3), Rotation.identity()
    for s in samples:
        p = p + s.delta_linear
        R = Rotation.from_rotvec(s.delta_angular) * R
    return p, R


def test_bundled_config_loads():
    assert TrakstarConfig.load("trakstar").clutch_button == 0
    assert TrakstarConfig.load() == TrakstarConfig.load("trakstar")


def test_bad_config_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown trakstar config keys: \\['clutch'\\]"):
        TrakstarConfig.from_dict({"clutch": 1})
    with pytest.raises(ValueError, match="gripper_mode must be 'toggle' or 'hold', got 'toogle'"):
        TrakstarConfig.from_dict({"gripper_mode": "toogle"})  # before: silently a held gripper
    assert TrakstarConfig.from_dict({"tracker_to_base_rpy": [0.0, 0.0, 1.5]}).tracker_to_base_rpy == (0.0, 0.0, 1.5)


def test_relative_motion_only_while_clutched_and_reanchored():
    m = TrakstarMapper(TrakstarConfig(max_linear_speed=10.0, rate_hz=100))
    out = []
    # hand moves 5 cm in x with clutch up: nothing
    out.append(m.update([0.0, 0, 0], QI, False, False, 0.00))
    out.append(m.update([0.05, 0, 0], QI, False, False, 0.01))
    assert not any(s.moving() for s in out) and not any(s.engaged for s in out)
    # press at x=0.05: anchor, no motion on the press sample
    s = m.update([0.05, 0, 0], QI, True, False, 0.02)
    assert s.engaged and not s.moving()
    moved = [m.update([0.05 + 0.01 * k, 0, 0], QI, True, False, 0.02 + 0.01 * k) for k in range(1, 4)]
    p, _ = integrate(moved)
    np.testing.assert_allclose(p, [0.03, 0, 0], atol=1e-12)
    # release, move back 10 cm, press again: re-anchored, no jump
    m.update([0.08, 0, 0], QI, False, False, 0.06)
    m.update([-0.02, 0, 0], QI, False, False, 0.07)
    s = m.update([-0.02, 0, 0], QI, True, False, 0.08)
    assert not s.moving()
    s = m.update([-0.01, 0, 0], QI, True, False, 0.09)
    np.testing.assert_allclose(s.delta_linear, [0.01, 0, 0], atol=1e-12)


def test_tracker_to_base_rotation_and_scale():
    cfg = TrakstarConfig(
        tracker_to_base_rpy=(0.0, 0.0, np.pi / 2),
        position_scale=0.5,
        max_linear_speed=10.0,
        max_angular_speed=100.0,
    )
    m = TrakstarMapper(cfg)
    m.update([0, 0, 0], QI, True, False, 0.0)
    s = m.update([0.02, 0, 0], QI, True, False, 0.01)
    np.testing.assert_allclose(s.delta_linear, [0.0, 0.01, 0.0], atol=1e-12)  # tracker +x = base +y
    # a 0.2 rad sensor rotation about tracker x is a 0.2 rad rotation about base y
    q = Rotation.from_rotvec([0.2, 0, 0]).as_quat()
    s = m.update([0.02, 0, 0], q, True, False, 0.02)
    np.testing.assert_allclose(s.delta_angular, [0.0, 0.2, 0.0], atol=1e-9)


def test_rotation_is_relative_to_the_anchor_orientation():
    m = TrakstarMapper(TrakstarConfig(max_angular_speed=100.0))
    q0 = Rotation.from_euler("xyz", [0.3, -0.2, 1.0])
    m.update([0, 0, 0], q0.as_quat(), True, False, 0.0)
    q1 = Rotation.from_rotvec([0, 0, 0.1]) * q0
    s = m.update([0, 0, 0], q1.as_quat(), True, False, 0.01)
    np.testing.assert_allclose(s.delta_angular, [0, 0, 0.1], atol=1e-9)


def test_rate_limit_carries_the_rest_to_later_samples():
    cfg = TrakstarConfig(max_linear_speed=0.2, max_angular_speed=1.0, rate_hz=100)
    m = TrakstarMapper(cfg)
    m.update([0, 0, 0], QI, True, False, 0.0)
    q = Rotation.from_rotvec([0, 0, 0.5]).as_quat()
    out = [m.update([0.1, 0, 0], q, True, False, 0.01 * k) for k in range(1, 80)]
    steps = np.array([np.linalg.norm(s.delta_linear) for s in out])
    rot_steps = np.array([np.linalg.norm(s.delta_angular) for s in out])
    assert steps.max() <= 0.2 * 0.01 + 1e-12 and rot_steps.max() <= 1.0 * 0.01 + 1e-12
    p, R = integrate(out)
    np.testing.assert_allclose(p, [0.1, 0, 0], atol=1e-9)  # caught up (50 samples needed)
    assert R.as_rotvec() == pytest.approx([0, 0, 0.5], abs=1e-9)


def test_invalid_pose_releases_the_clutch():
    m = TrakstarMapper()
    m.update([0, 0, 0], QI, True, False, 0.0)
    s = m.update([np.nan, 0, 0], QI, True, False, 0.01)
    assert not s.engaged and not s.moving()


def test_gripper_toggle():
    m = TrakstarMapper()
    g = [m.update([0, 0, 0], QI, False, b, 0.01 * k).gripper for k, b in enumerate([0, 1, 1, 0, 1])]
    assert g == [0.0, 1.0, 1.0, 1.0, 0.0]
