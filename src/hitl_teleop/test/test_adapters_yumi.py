"""YuMi adapter: two JointTrajectory messages (topic, joint names, order), per-arm IK, joint hold; with the
simulator's MJCF + mink (the default) and with the bundled URDF + damped least squares."""

import numpy as np
import pytest
from adapter_helpers import assert_jacobian_matches_finite_differences, command
from hitl_teleop.adapters.base import Float64Out, JointTrajectoryOut
from hitl_teleop.adapters.factory import build_adapter
from hitl_teleop.adapters.kinematics import pose_error, pose_to_matrix
from hitl_teleop.adapters.yumi import SIDES, yumi_chain, yumi_mj_chains
from scipy.spatial.transform import Rotation

FRAME = "yumi_base_link"
# joints near the profile's home positions (0.40, +-0.20, 0.25), gripper down (found once with IK, rounded)
HOME = {"l": [0.74, -0.55, 0.05, 0.79, 0.47, 0.28, -0.09], "r": [-0.75, -0.55, -0.05, 0.79, -0.47, 0.28, 0.1]}


@pytest.fixture(params=["mjcf", "urdf"])
def adapter(request):
    a = build_adapter("yumi", {"kinematics": request.param})
    names, pos = [], []
    for side, arm in zip("lr", a.arms):
        names += list(arm.chain.joint_names)
        pos += HOME[side]
    order = np.random.default_rng(0).permutation(len(names))  # joint_states in any order
    a.set_joint_state([names[i] for i in order], [pos[i] for i in order])
    return a


def current_poses(a):
    return [arm.chain.fk(arm.measured) for arm in a.arms]


def test_exact_messages_and_round_trip(adapter):
    Ts = current_poses(adapter)
    targets = [Ts[0][:3, 3] + np.array([0.01, 0.0, -0.01]), Ts[1][:3, 3] + np.array([0.0, -0.01, 0.01])]
    rots = [Rotation.from_rotvec([0.05, 0, 0]) * Rotation.from_matrix(T[:3, :3]) for T in Ts]
    for p in targets:
        assert np.all(p >= adapter.lo) and np.all(p <= adapter.hi), "fixture pose left the workspace box"
    out = adapter.step(command(FRAME, targets, rots, gripper=[0.0, 1.0]))
    assert not out.held, out.reason
    trajs = [m for m in out.messages if isinstance(m, JointTrajectoryOut)]
    assert [t.topic for t in trajs] == [
        "/left_arm_controller/joint_trajectory",
        "/right_arm_controller/joint_trajectory",
    ]
    for t, side in zip(trajs, "lr"):
        assert t.joint_names == tuple(f"yumi_joint_{i}_{side}" for i in (1, 2, 7, 3, 4, 5, 6))
        assert len(t.positions) == 7 and t.time_from_start == pytest.approx(0.1)
    for i, (t, arm) in enumerate(zip(trajs, adapter.arms)):
        dp, da = pose_error(
            pose_to_matrix(targets[i], rots[i].as_quat()), arm.chain.fk(np.array(t.positions))
        )
        assert dp < 1e-3 and da < np.deg2rad(1)
    grip = [m for m in out.messages if isinstance(m, Float64Out)]
    assert grip == [Float64Out("left_gripper/command", 0.05), Float64Out("right_gripper/command", 0.0)]


def test_end_effectors_are_addressed_separately(adapter):
    Ts = current_poses(adapter)
    rots = [T[:3, :3] for T in Ts]
    out = adapter.step(command(FRAME, [Ts[0][:3, 3] + np.array([0, 0, 0.02]), Ts[1][:3, 3]], rots))
    left, right = (np.array(m.positions) for m in out.messages if isinstance(m, JointTrajectoryOut))
    assert np.max(np.abs(left - adapter.arms[0].measured)) > 1e-3
    np.testing.assert_allclose(right, adapter.arms[1].measured, atol=2e-3)


def test_one_arm_unreachable_holds_both(adapter):
    Ts = current_poses(adapter)
    rots = [T[:3, :3] for T in Ts]
    out = adapter.step(command(FRAME, [Ts[0][:3, 3], [0.6, -0.4, 0.02]], rots))
    assert out.held and out.messages == [] and "yumi r" in out.reason


def test_holds_and_bad_commands(adapter):
    Ts = current_poses(adapter)
    rots = [T[:3, :3] for T in Ts]
    ps = [T[:3, 3] for T in Ts]
    assert adapter.step(command(FRAME, ps, rots, hold=True)).held
    out = adapter.step(command(FRAME, ps[:1], rots[:1]))
    assert out.held and "expected 2 target" in out.reason


def test_trajectory_message_is_built_for_real(adapter):
    pytest.importorskip("trajectory_msgs", reason="trajectory_msgs (ROS) not importable")
    from hitl_teleop.adapters.messages import joint_trajectory, message_type

    Ts = current_poses(adapter)
    out = adapter.step(command(FRAME, [T[:3, 3] for T in Ts], [T[:3, :3] for T in Ts]))
    o = out.messages[0]
    msg = joint_trajectory(o)
    assert type(msg) is message_type(o)
    assert list(msg.joint_names) == list(o.joint_names) and len(msg.points) == 1
    assert list(msg.points[0].positions) == pytest.approx(list(o.positions))
    assert (msg.points[0].time_from_start.sec, msg.points[0].time_from_start.nanosec) == (0, 100_000_000)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 0)


def test_the_simulator_mjcf_and_the_bundled_urdf_are_one_kinematic_model():
    rng = np.random.default_rng(3)
    for side, mj in zip(SIDES, yumi_mj_chains()):
        urdf = yumi_chain(side)
        assert mj.joint_names == urdf.joint_names
        np.testing.assert_allclose([mj.lower, mj.upper], [urdf.lower, urdf.upper], atol=1e-3)
        for _ in range(30):
            q = rng.uniform(urdf.lower, urdf.upper)
            dp, da = pose_error(urdf.fk(q), mj.fk(q))
            assert dp < 5e-4 and da < np.deg2rad(0.1)


def test_mink_ik_round_trips_and_refuses_what_is_out_of_reach():
    from hitl_teleop.adapters.ik import IKParams
    from hitl_teleop.adapters.mj_arm import solve_ik_mink

    chain = yumi_mj_chains()[0]
    rng = np.random.default_rng(4)
    for _ in range(10):
        q = rng.uniform(chain.lower, chain.upper) * 0.8
        T = chain.fk(q)
        res = solve_ik_mink(chain, T, np.clip(q + rng.normal(0, 0.05, chain.dof), chain.lower, chain.upper),
                            IKParams(restarts=2))
        dp, da = pose_error(T, chain.fk(res.q))
        assert res.success and dp < 1e-3 and da < np.deg2rad(1) and chain.within_limits(res.q)
    far = chain.fk(np.zeros(chain.dof))
    far[:3, 3] = chain.first_joint_origin() + np.array([2.0, 0.0, 0.0])
    res = solve_ik_mink(chain, far, np.zeros(chain.dof))
    assert not res.success and res.reason.startswith("unreachable")


def test_mjcf_jacobian_matches_finite_differences():
    chain = yumi_mj_chains()[1]
    q = np.random.default_rng(5).uniform(chain.lower, chain.upper) * 0.7
    assert_jacobian_matches_finite_differences(chain, q, atol=1e-4)
