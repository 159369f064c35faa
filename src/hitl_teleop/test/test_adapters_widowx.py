"""WidowX adapter: exact JointGroupCommand data, IK round trip through the adapter, holds and guards."""

import numpy as np
import pytest
from adapter_helpers import command
from hitl_teleop.adapters.base import JointGroupCommandOut, JointSingleCommandOut
from hitl_teleop.adapters.factory import build_adapter
from hitl_teleop.adapters.kinematics import pose_error, pose_to_matrix
from hitl_teleop.adapters.widowx import WIDOWX_JOINTS
from scipy.spatial.transform import Rotation

FRAME = "wx250s/base_link"
HOME_Q = np.array([0.0, -0.3, 0.4, 0.0, 0.9, 0.0])


@pytest.fixture
def adapter():
    a = build_adapter("widowx")
    names = ["gripper", *reversed(WIDOWX_JOINTS), "left_finger"]  # joint_states order is the driver's
    pos = [0.02, *reversed(HOME_Q.tolist()), 0.01]
    a.set_joint_state(names, pos)
    return a


def home_pose(a):
    T = a.chain.fk(HOME_Q)
    return T[:3, 3], T[:3, :3]


def test_exact_message_and_round_trip(adapter):
    p0, R0 = home_pose(adapter)
    target = p0 + np.array([0.01, -0.01, 0.005])
    R = Rotation.from_rotvec([0, 0, 0.05]) * Rotation.from_matrix(R0)
    out = adapter.step(command(FRAME, [target], [R], gripper=[0.0]))
    assert not out.held, out.reason
    grp = [m for m in out.messages if isinstance(m, JointGroupCommandOut)]
    assert len(grp) == 1
    m = grp[0]
    assert m.topic == "/wx250s/commands/joint_group" and m.name == "arm" and len(m.cmd) == 6
    # cmd is in xs_sdk order (waist..wrist_rotate): FK of it lands on the target
    dp, da = pose_error(pose_to_matrix(target, R.as_quat()), adapter.chain.fk(np.array(m.cmd)))
    assert dp < 1e-3 and da < np.deg2rad(1)
    # gripper: first command opens (+effort, pwm mode)
    g = [x for x in out.messages if isinstance(x, JointSingleCommandOut)]
    assert g == [JointSingleCommandOut("/wx250s/commands/joint_single", "gripper", 250.0)]


def test_straight_line_is_tracked_without_jumps(adapter):
    p0, R0 = home_pose(adapter)
    prev = HOME_Q
    for k in range(1, 21):
        out = adapter.step(command(FRAME, [p0 + np.array([0.0, 0.006 * k, -0.003 * k])], [R0]))
        assert not out.held, out.reason
        q = np.array(out.messages[0].cmd)
        assert np.max(np.abs(q - prev)) <= adapter.cfg.max_joint_step
        prev = q


def test_gripper_sent_only_on_change_with_hysteresis(adapter):
    p0, R0 = home_pose(adapter)
    sent = []
    for g in [0.0, 0.0, 0.55, 0.7, 0.9, 0.5, 0.3, 0.3]:
        out = adapter.step(command(FRAME, [p0], [R0], gripper=[g]))
        sent.append([m.cmd for m in out.messages if isinstance(m, JointSingleCommandOut)])
    assert sent == [[250.0], [], [], [-250.0], [], [], [250.0], []]


def test_holds(adapter):
    p0, R0 = home_pose(adapter)
    out = adapter.step(command(FRAME, [p0], [R0], hold=True))
    assert out.held and out.messages == [] and "arbiter" in out.reason
    out = adapter.step(command("world", [p0], [R0]))
    assert out.held and "frame" in out.reason
    out = adapter.step(command(FRAME, [[0.9, 0, 0.2]], [R0]))
    assert out.held and "workspace" in out.reason
    out = adapter.step(command(FRAME, [p0, p0], [R0, R0]))
    assert out.held and "expected 1 target" in out.reason
    out = adapter.step(command(FRAME, [[np.nan, 0, 0]], [R0]))
    assert out.held and "not finite" in out.reason


def test_jump_guard_holds_instead_of_jumping(adapter):
    # reachable, inside the box, but ~25 cm away: the joints would jump
    far = np.array([0.20, 0.20, 0.10])
    out = adapter.step(command(FRAME, [far], [Rotation.from_euler("xyz", [0, np.pi / 2, 0])]))
    assert out.held and out.messages == []
    assert "would move" in out.reason or "unreachable" in out.reason


def test_out_of_reach_target_holds_with_reason():
    a = build_adapter("widowx", {"workspace_min": [-1, -1, -1], "workspace_max": [1, 1, 1]})
    a.set_joint_state(list(WIDOWX_JOINTS), HOME_Q.tolist())
    out = a.step(
        command(FRAME, [[0.75, 0.0, 0.2]], [Rotation.identity()])
    )  # 0.755 m from the shoulder, reach 0.66
    assert out.held and "unreachable" in out.reason


def test_waits_for_joint_states():
    a = build_adapter("widowx")
    out = a.step(command(FRAME, [[0.3, 0, 0.2]], [Rotation.identity()]))
    assert out.held and "joint states" in out.reason


def test_position_gripper_mode():
    a = build_adapter("widowx", {"gripper_mode": "position"})
    a.set_joint_state(list(WIDOWX_JOINTS), HOME_Q.tolist())
    T = a.chain.fk(HOME_Q)
    out = a.step(command(FRAME, [T[:3, 3]], [T[:3, :3]], gripper=[1.0]))
    assert [m.cmd for m in out.messages if isinstance(m, JointSingleCommandOut)] == [0.015]


def test_unknown_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown WidowXConfig settings"):
        build_adapter("widowx", {"max_joint_stp": 1.0})
