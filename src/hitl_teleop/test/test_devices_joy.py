"""Joy mapper: Joy axes/buttons in (ps3 map), TeleopSample stream out."""

import numpy as np
import pytest
from hitl_teleop.devices.joy import JoyMap, JoyMapper

N_AX, N_BTN = 6, 17
DEADMAN, TURBO, TAKE, PAUSE, RESET, GRIP = 8, 10, 11, 3, 0, 14


def joy(axes=None, pressed=()):
    a = [0.0] * N_AX
    for k, v in (axes or {}).items():
        a[k] = v
    b = [0] * N_BTN
    for i in pressed:
        b[i] = 1
    return a, b


def run(mapper, frames, dt=0.05):
    return [mapper.update(*joy(ax, pr), t=i * dt) for i, (ax, pr) in enumerate(frames)]


def test_ps3_default_matches_teleop_twist_joy():
    m = JoyMap.load("ps3")
    assert m.buttons["deadman"] == 8 and m.buttons["turbo"] == 10
    assert m.required_sizes() == (4, 15)  # highest index used: axis 3, button 14 (cross)


def test_deadman_gates_motion_and_release_stops_at_once():
    m = JoyMapper(JoyMap.load("ps3"))
    out = run(m, [({1: 1.0}, ()), ({1: 1.0}, (DEADMAN,)), ({1: 1.0}, (DEADMAN,)), ({1: 1.0}, ())])
    assert [s.engaged for s in out] == [False, True, True, False]
    assert not out[0].moving() and not out[3].moving()
    assert out[2].delta_linear[0] == pytest.approx(0.10 * 0.05)


def test_axes_signs_turbo_and_dpad_buttons():
    jm = JoyMap.load("ps3")
    m = JoyMapper(jm)
    m.update(*joy({}, (DEADMAN,)), t=0.0)
    s = m.update(*joy({0: -1.0, 3: 0.5, 2: 1.0}, (DEADMAN, 5)), t=0.05)
    dt, v, w = 0.05, jm.linear_speed, jm.angular_speed
    expect_z = (0.5 - jm.deadband) / (1 - jm.deadband) * v * dt
    np.testing.assert_allclose(s.delta_linear, [0.0, -v * dt, expect_z])
    np.testing.assert_allclose(s.delta_angular, [w * dt, 0.0, w * dt])
    s = m.update(*joy({1: 1.0}, (DEADMAN, TURBO)), t=0.10)
    assert s.delta_linear[0] == pytest.approx(jm.turbo_factor * v * dt)


def test_pause_and_reset_are_edges_take_over_is_held():
    m = JoyMapper(JoyMap.load("ps3"))
    frames = [({}, (PAUSE, TAKE)), ({}, (PAUSE, TAKE)), ({}, ()), ({}, (PAUSE, RESET)), ({}, (RESET,))]
    out = run(m, frames)
    assert [s.pause for s in out] == [True, False, False, True, False]
    assert [s.reset for s in out] == [False, False, False, True, False]
    assert [s.take_over for s in out] == [True, True, False, False, False]


def test_gripper_toggle():
    m = JoyMapper(JoyMap.load("ps3"))
    out = run(m, [({}, (GRIP,)), ({}, (GRIP,)), ({}, ()), ({}, (GRIP,))])
    assert [s.gripper for s in out] == [1.0, 1.0, 1.0, 0.0]


def test_short_joy_message_is_a_clear_error():
    m = JoyMapper(JoyMap.load("ps3"))
    with pytest.raises(ValueError, match="wrong pad or wrong map"):
        m.update([0.0] * 2, [0] * 4, t=0.0)


def test_map_validation():
    with pytest.raises(ValueError, match="deadman"):
        JoyMap.from_dict({"buttons": {"turbo": 1}})
    with pytest.raises(ValueError, match="unknown button role"):
        JoyMap.from_dict({"buttons": {"deadman": 1, "jump": 2}})
    with pytest.raises(ValueError, match="unknown motion axis"):
        JoyMap.from_dict({"buttons": {"deadman": 1}, "axes": {"linear_w": {"axis": 0}}})
