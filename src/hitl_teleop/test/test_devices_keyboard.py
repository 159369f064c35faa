"""Keyboard mapper and the TeleopSample -> TeleopCommand converter."""

import numpy as np
import pytest
from hitl_teleop.devices.common import TeleopSample, to_msg
from hitl_teleop.devices.keyboard import KeyboardConfig, KeyboardMapper


def test_motion_needs_engage_toggle():
    m = KeyboardMapper(KeyboardConfig(linear_step=0.01, angular_step=0.05))
    assert not m.update("ww", 0.0).moving()
    s = m.update(" wwq", 0.1)
    assert s.engaged
    np.testing.assert_allclose(s.delta_linear, [0.02, 0, 0.01])
    s = m.update("jl", 0.2)
    np.testing.assert_allclose(s.delta_angular, [0, 0, 0])
    s = m.update(" w", 0.3)
    assert not s.engaged and not s.moving()


def test_edges_toggles_and_arm_index():
    m = KeyboardMapper()
    s = m.update("pRtg2", 0.0)
    assert s.pause and s.reset and s.take_over and s.gripper == 1.0 and s.arm_index == 1
    s = m.update("", 0.1)
    assert not s.pause and not s.reset and s.take_over and s.gripper == 1.0
    s = m.update("r", 0.2)  # lower-case r is not reset
    assert not s.reset


def test_to_msg_fills_every_field():
    pytest.importorskip("hitl_msgs", reason="hitl_msgs not built / install not sourced")
    s = TeleopSample(
        stamp=12.25,
        device="joy",
        operator_id="op_3",
        frame_id="fr3_link0",
        engaged=True,
        take_over=True,
        pause=True,
        reset=False,
        delta_linear=np.array([0.01, -0.02, 0.03]),
        delta_angular=np.array([0.1, 0.0, -0.1]),
        arm_index=1,
        gripper=1.5,
    )
    msg = to_msg(s)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 250_000_000)
    assert msg.header.frame_id == "fr3_link0" and msg.device == "joy" and msg.operator_id == "op_3"
    assert msg.engaged and msg.take_over and msg.pause and not msg.reset
    assert msg.mode == msg.MODE_DELTA and msg.arm_index == 1 and msg.gripper == 1.0
    assert (msg.delta.linear.x, msg.delta.linear.y, msg.delta.linear.z) == (0.01, -0.02, 0.03)
    assert (msg.delta.angular.x, msg.delta.angular.z) == (0.1, -0.1)
    assert msg.pose.orientation.w == 1.0
