"""Franka adapter: exact equilibrium PoseStamped, silence on hold, step and reach guards, gripper actions on change."""

import numpy as np
import pytest
from adapter_helpers import command
from hitl_teleop.adapters.base import GripperActionOut, PoseStampedOut
from hitl_teleop.adapters.factory import build_adapter
from scipy.spatial.transform import Rotation

FRAME = "fr3_link0"
P0 = np.array([0.45, 0.0, 0.40])
R_DOWN = Rotation.from_euler("xyz", [np.pi, 0, 0])


@pytest.fixture
def adapter():
    a = build_adapter("franka")
    a.set_current_pose(P0, R_DOWN.as_quat())
    return a


def test_exact_pose_message(adapter):
    target = P0 + np.array([0.01, -0.02, 0.0])
    q = (Rotation.from_rotvec([0, 0, 0.1]) * R_DOWN).as_quat()
    out = adapter.step(command(FRAME, [target], [Rotation.from_quat(q)], gripper=[0.0]))
    assert not out.held
    poses = [m for m in out.messages if isinstance(m, PoseStampedOut)]
    assert len(poses) == 1
    m = poses[0]
    assert m.topic == "/cartesian_impedance_example_controller/equilibrium_pose" and m.frame_id == FRAME
    np.testing.assert_allclose(m.position, target)
    assert abs(float(np.dot(m.quaternion, q))) == pytest.approx(1.0)
    assert np.linalg.norm(m.quaternion) == pytest.approx(1.0)


def test_unnormalized_quaternion_is_normalized(adapter):
    cmd = command(FRAME, [P0], [R_DOWN])
    cmd.quaternions[0] = cmd.quaternions[0] * 3.0
    out = adapter.step(cmd)
    assert np.linalg.norm(out.messages[0].quaternion) == pytest.approx(1.0)


def test_hold_means_silence(adapter):
    out = adapter.step(command(FRAME, [P0], [R_DOWN], hold=True))
    assert out.held and out.messages == []


def test_step_guards(adapter):
    out = adapter.step(command(FRAME, [P0 + np.array([0.2, 0, 0])], [R_DOWN]))
    assert out.held and "mm from the arm" in out.reason
    out = adapter.step(command(FRAME, [P0], [Rotation.from_rotvec([0, 0, 0.8]) * R_DOWN]))
    assert out.held and "deg from the arm" in out.reason
    out = adapter.step(command(FRAME, [[1.2, 0, 0.4]], [R_DOWN]))
    assert out.held and "workspace" in out.reason


def test_waits_for_current_pose():
    a = build_adapter("franka")
    out = a.step(command(FRAME, [P0], [R_DOWN]))
    assert out.held and "current pose" in out.reason


def test_gripper_actions_on_change_only(adapter):
    kinds = []
    for g in [0.0, 0.0, 1.0, 1.0, 0.5, 0.0]:
        out = adapter.step(command(FRAME, [P0], [R_DOWN], gripper=[g]))
        kinds.append([(m.action, m.kind) for m in out.messages if isinstance(m, GripperActionOut)])
    assert kinds == [
        [("/franka_gripper/move", "move")],
        [],
        [("/franka_gripper/grasp", "grasp")],
        [],
        [],
        [("/franka_gripper/move", "move")],
    ]
    out = build_adapter("franka")
    out.set_current_pose(P0, R_DOWN.as_quat())
    msgs = out.step(command(FRAME, [P0], [R_DOWN], gripper=[1.0])).messages
    g = next(m for m in msgs if isinstance(m, GripperActionOut))
    assert (g.width, g.force, g.epsilon_inner, g.epsilon_outer) == (0.0, 20.0, 0.08, 0.08)


def test_pose_message_is_built_for_real(adapter):
    pytest.importorskip("geometry_msgs", reason="geometry_msgs (ROS) not importable")
    from hitl_teleop.adapters.messages import MissingRobotPackageError, gripper_goal, pose_stamped

    out = adapter.step(command(FRAME, [P0], [R_DOWN], gripper=[0.0]))
    msg = pose_stamped(out.messages[0], now=(5, 7))
    assert msg.header.frame_id == FRAME and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 7)
    assert (msg.pose.position.x, msg.pose.position.y, msg.pose.position.z) == tuple(P0)
    try:
        import franka_msgs  # noqa: F401
    except ImportError:
        with pytest.raises(MissingRobotPackageError, match="franka_ros2"):
            gripper_goal(out.messages[1])


def test_the_model_is_robosuites_panda_with_frankas_tcp():
    """Franka's ready pose puts fr3_hand_tcp at (0.307, 0, 0.487) m pointing down (Franka's documented home)."""
    from hitl_teleop.adapters.franka import READY_Q, franka_chain

    T = franka_chain().fk(np.array(READY_Q))
    np.testing.assert_allclose(T[:3, 3], [0.307, 0.0, 0.487], atol=2e-3)
    assert (Rotation.from_matrix(T[:3, :3]).inv() * R_DOWN).magnitude() < np.deg2rad(0.1)


def test_targets_are_checked_by_ik_on_the_simulators_model(adapter):
    """Every target sent has an IK solution inside the joint limits within 1 mm / 1 deg (closed loop: FK of it)."""
    from hitl_teleop.adapters.kinematics import pose_error, pose_to_matrix

    p = P0.copy()
    for k in range(15):
        p = p + np.array([0.01, 0.01, -0.01])
        rot = Rotation.from_rotvec([0, 0, 0.05 * k]) * R_DOWN
        adapter.set_current_pose(p, rot.as_quat())
        out = adapter.step(command(FRAME, [p], [rot]))
        assert not out.held, out.reason
        assert adapter.chain.within_limits(adapter.ik_q)
        dp, da = pose_error(pose_to_matrix(p, rot.as_quat()), adapter.chain.fk(adapter.ik_q))
        assert dp < 1e-3 and da < np.deg2rad(1)


def test_a_target_inside_the_box_but_out_of_reach_holds():
    corner = np.array([0.80, 0.45, 0.75])  # 1.01 m from the shoulder; the arm reaches ~0.86 m
    a = build_adapter("franka")
    a.set_current_pose(corner, R_DOWN.as_quat())
    out = a.step(command(FRAME, [corner], [R_DOWN]))
    assert out.held and out.messages == [] and "unreachable" in out.reason
    b = build_adapter("franka", {"kinematics": "none"})  # no model: the controller gets it
    b.set_current_pose(corner, R_DOWN.as_quat())
    assert not b.step(command(FRAME, [corner], [R_DOWN])).held
