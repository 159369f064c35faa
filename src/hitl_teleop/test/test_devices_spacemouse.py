"""SpaceMouse mapper: pyspacemouse state objects in, TeleopSample stream out."""

import numpy as np
import pytest
from hitl_teleop.devices.spacemouse import SpaceMouseConfig, SpaceMouseMapper
from pyspacemouse import ButtonState, SpaceMouseState


def state(t, x=0.0, y=0.0, z=0.0, roll=0.0, pitch=0.0, yaw=0.0, buttons=(0, 0)):
    return SpaceMouseState(
        t=t, x=x, y=y, z=z, roll=roll, pitch=pitch, yaw=yaw, buttons=ButtonState(list(buttons))
    )


def test_bundled_config_loads():
    cfg = SpaceMouseConfig.load("spacemouse")
    assert cfg.takeover_button == 0 and cfg.gripper_button == 1
    assert cfg.linear_axes == ("x", "y", "z")


def test_scaling_full_deflection_over_sample_dt():
    cfg = SpaceMouseConfig(linear_speed=0.1, angular_speed=0.5, deadband=0.1, rate_hz=50)
    m = SpaceMouseMapper(cfg)
    m.update(state(0.0, buttons=(1, 0)))
    s = m.update(state(0.02, x=1.0, yaw=-1.0, buttons=(1, 0)))
    assert s.engaged and s.take_over
    np.testing.assert_allclose(s.delta_linear, [0.1 * 0.02, 0, 0], atol=1e-12)
    np.testing.assert_allclose(s.delta_angular, [0, 0, -0.5 * 0.02], atol=1e-12)
    # a 1 s gap is capped at max_dt: no jump after a stall
    s = m.update(state(1.02, z=1.0, buttons=(1, 0)))
    np.testing.assert_allclose(s.delta_linear, [0, 0, 0.1 * cfg.max_dt])


def test_deadband_zeroes_small_and_is_continuous():
    m = SpaceMouseMapper(SpaceMouseConfig(deadband=0.1, linear_speed=1.0, rate_hz=10))
    m.update(state(0.0, buttons=(1, 0)))
    assert not m.update(state(0.1, x=0.09, y=-0.1, buttons=(1, 0))).moving()
    s = m.update(state(0.2, x=0.1001, buttons=(1, 0)))
    assert 0 < s.delta_linear[0] < 1e-4
    s = m.update(state(0.3, x=0.55, buttons=(1, 0)))
    assert s.delta_linear[0] == pytest.approx(0.5 * 0.1)


def test_no_motion_without_takeover_button():
    m = SpaceMouseMapper()
    s = m.update(state(0.0, x=1.0, y=1.0, roll=1.0))
    assert not s.engaged and not s.take_over and not s.moving()


def test_gripper_toggles_on_press_edge_not_hold():
    m = SpaceMouseMapper()
    seq = [(0, 0), (0, 1), (0, 1), (0, 1), (0, 0), (0, 1), (0, 0)]
    grips = [m.update(state(i * 0.02, buttons=b)).gripper for i, b in enumerate(seq)]
    assert grips == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_axis_remap_and_signs():
    cfg = SpaceMouseConfig(
        linear_axes=("y", "x", "z"), linear_signs=(-1.0, 1.0, 1.0), deadband=0.0, linear_speed=1.0, rate_hz=10
    )
    m = SpaceMouseMapper(cfg)
    s = m.update(state(0.0, x=0.5, y=0.25, buttons=(1, 0)))
    np.testing.assert_allclose(s.delta_linear, [-0.025, 0.05, 0.0])


def test_spacenav_joy_input_matches_pyspacemouse_input():
    a, b = SpaceMouseMapper(), SpaceMouseMapper()
    s1 = a.update(state(0.0, x=0.5, pitch=0.7, buttons=(1, 0)))
    s2 = b.update_spacenav([0.5, 0, 0, 0, 0.7, 0], [1, 0], 0.0)
    np.testing.assert_allclose(s1.delta_linear, s2.delta_linear)
    np.testing.assert_allclose(s1.delta_angular, s2.delta_angular)
    with pytest.raises(ValueError, match="6"):
        b.update_spacenav([0.0] * 3, [1, 0], 0.1)


def test_bad_config_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown spacemouse config keys"):
        SpaceMouseConfig.from_dict({"linear_sped": 1.0})
    with pytest.raises(ValueError, match="axis"):
        SpaceMouseConfig.from_dict({"linear_axes": ["x", "y", "w"]})


def test_missing_device_raises_from_pyspacemouse():
    """The node's 'no device' path: pyspacemouse.open() fails without a device (none on this machine)."""
    import pyspacemouse

    with pytest.raises((RuntimeError, OSError, ValueError)):
        pyspacemouse.open()
