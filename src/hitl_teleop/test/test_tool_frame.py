"""Policy yaw on a real arm: the arbiter turns the simulator's (x, y, z, yaw) into the TCP pose the
observation bridge reads back as the same (x, y, z, yaw), and the arm adapters accept it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hitl_sim.arms import load_arm_profile
from hitl_teleop.adapters.base import (
    ArmCommandData,
    JointGroupCommandOut,
    JointTrajectoryOut,
    PoseStampedOut,
    angle_between,
)
from hitl_teleop.adapters.franka import FrankaAdapter
from hitl_teleop.adapters.ik import IKParams, solve_ik
from hitl_teleop.adapters.kinematics import matrix_to_pose, transform
from hitl_teleop.adapters.widowx import WidowXAdapter
from hitl_teleop.adapters.yumi import YuMiAdapter
from hitl_teleop.arbiter import (
    MODE_ABSOLUTE,
    ActionChunkIn,
    Arbiter,
    ArbiterConfig,
    ObservationIn,
    Source,
    TeleopIn,
    UncertaintyIn,
)
from hitl_teleop.observation_bridge import ARM_DEFAULTS, BridgeConfig, ObjectConfig, ObservationBridge
from hitl_teleop.tool_frame import ToolFrame
from scipy.spatial.transform import Rotation

TIGHT = IKParams(pos_tol=1e-9, rot_tol=1e-9, max_iters=300, restarts=8)
YAW_STEP = 0.05  # rad: within every profile's rotation limit per tick


def offsets(arm: str) -> dict:
    d = ARM_DEFAULTS[arm]
    return {"ee_offset_xyz": d.ee_offset_xyz, "ee_offset_rpy": d.ee_offset_rpy}


@pytest.mark.parametrize(
    "xyz, rpy",
    [(ARM_DEFAULTS[a].ee_offset_xyz, ARM_DEFAULTS[a].ee_offset_rpy) for a in ARM_DEFAULTS]
    + [((0.01, -0.02, 0.1), (0.3, -0.4, 2.0)), ((0, 0, 0), (0, 0, 0))],
)
def test_round_trips(xyz, rpy):
    tool = ToolFrame(xyz, rpy)
    rng = np.random.default_rng(0)
    yaw = rng.uniform(-math.pi, math.pi, 20)
    q = tool.tcp_quaternions(yaw)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(tool.sim_yaw(q), yaw, atol=1e-9)
    p_sim = rng.uniform(-0.5, 0.5, (20, 3))
    p_tcp = tool.tcp_positions(p_sim, q)
    np.testing.assert_allclose(tool.sim_positions(p_tcp, q), p_sim, atol=1e-12)
    for i in range(3):  # the simulator frame of the commanded TCP pose is level with that heading
        p, quat = p_tcp[i], q[i]
        S = transform(p, Rotation.from_quat(quat).as_matrix()) @ tool.offset
        np.testing.assert_allclose(S[:3, 2], [0, 0, 1], atol=1e-9)
        np.testing.assert_allclose(S[:3, 3], p_sim[i], atol=1e-12)
        np.testing.assert_allclose(math.atan2(S[1, 0], S[0, 0]), yaw[i], atol=1e-9)


def test_bad_offsets_are_refused():
    with pytest.raises(ValueError, match="3 finite"):
        ToolFrame((0, 0), (0, 0, 0))
    with pytest.raises(ValueError, match="3 finite"):
        ToolFrame((0, 0, 0), (0, math.nan, 0))


def top_down_tcp(arm: str, heading: float) -> np.ndarray:
    """A TCP orientation whose fingers point down, turned by ``heading`` (built without ToolFrame)."""
    down = {"franka": [math.pi, 0, 0], "widowx": [0, math.pi / 2, 0], "yumi": [math.pi, 0, 0]}[arm]
    return (Rotation.from_euler("z", heading) * Rotation.from_euler("xyz", down)).as_quat()


def franka_bridge(simulator: str = "kinematic") -> ObservationBridge:
    """The bridge in the yaw convention the arbiter commands in (ToolFrame: the kinematic simulator's)."""
    b = ObservationBridge(BridgeConfig(
        arm="franka", task="lift", simulator=simulator, objects={"obj": ObjectConfig("obj", "/o", type="cube")}
    ))
    b.on_joint_state(["fr3_finger_joint1", "fr3_finger_joint2"], [0.04, 0.04], 1.0, 1.0)
    b.on_object_pose("obj", [0.5, 0.1, 0.0], [0, 0, 0, 1], "fr3_link0", 1.0, 1.0)
    return b


def read_ee(b: ObservationBridge, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    assert b.on_ee_pose(p, q, "fr3_link0", 1.0, 1.0) == ""
    out = b.build(1.0)
    assert out.ok, out.reason
    return out.ee[0]


def arbiter_command(arm: str, cfg: dict, tcp_p: np.ndarray, tcp_q: np.ndarray, action: np.ndarray):
    profile = load_arm_profile(arm)
    arb = Arbiter(ArbiterConfig(threshold=1.0, **cfg), profile)
    t = 10.0
    arb.on_observation(ObservationIn(t, tcp_p, np.zeros(profile.n_arms), tcp_q))
    arb.on_action_chunk(ActionChunkIn(t, np.tile(action.reshape(1, -1), (4, 1)), n_execute=4, dt=0.1))
    arb.on_uncertainty(UncertaintyIn(t, 0.1))
    out = arb.tick(t)
    assert out.state.source == Source.POLICY and not out.command.hold
    return out.command


def test_franka_policy_yaw_reaches_the_arm_and_reads_back_as_commanded():
    d = ARM_DEFAULTS["franka"]
    bridge, tool = franka_bridge(), ToolFrame(d.ee_offset_xyz, d.ee_offset_rpy)
    p0, q0 = np.array([0.5, 0.05, 0.2]), top_down_tcp("franka", 0.4)
    ee0 = read_ee(bridge, p0, q0)  # what the policy sees: x, y, z, yaw, gripper
    assert abs(abs(ee0[3] - 0.4) - math.pi / 2) < 1e-9  # Franka's fingers close along TCP y
    action = np.r_[ee0[:3] + np.array([0.01, -0.01, 0.0]), ee0[3] + YAW_STEP, 1.0]
    cmd = arbiter_command("franka", offsets("franka"), p0[None], q0[None], action)

    adapter = FrankaAdapter()
    adapter.set_current_pose(p0, q0)
    res = adapter.step(ArmCommandData(10.0, "fr3_link0", False, list(cmd.positions), list(cmd.orientations),
                                      list(cmd.gripper)))
    assert not res.held, res.reason
    pose = next(m for m in res.messages if isinstance(m, PoseStampedOut))
    assert angle_between(q0, np.array(pose.quaternion)) == pytest.approx(YAW_STEP, abs=1e-9)
    ee1 = read_ee(bridge, np.array(pose.position), np.array(pose.quaternion))
    np.testing.assert_allclose(ee1[:4], action[:4], atol=1e-9)

    # without the offset (the simulator's identity) the same action would tilt the hand off top-down
    naive = arbiter_command("franka", {}, p0[None], q0[None], action)
    S = transform(naive.positions[0], Rotation.from_quat(naive.orientations[0]).as_matrix()) @ tool.offset
    assert S[2, 2] < math.cos(0.05)


def test_franka_human_action_is_recorded_in_the_policy_layout():
    """A human's TCP pose goes into the dataset as the simulator's (x, y, z, yaw), as the bridge reads it."""
    bridge = franka_bridge()
    p0, q0 = np.array([0.5, 0.0, 0.2]), top_down_tcp("franka", -0.2)
    profile = load_arm_profile("franka")
    arb = Arbiter(ArbiterConfig(threshold=1.0, gating="human", **offsets("franka")), profile)
    arb.on_observation(ObservationIn(5.0, p0[None], np.zeros(1), q0[None]))
    arb.on_uncertainty(UncertaintyIn(5.0, 0.1))
    q1 = top_down_tcp("franka", -0.25)
    p1 = p0 + np.array([0.01, 0.0, -0.01])
    arb.on_teleop(TeleopIn(stamp=5.0, operator_id="op", engaged=True, take_over=True, mode=MODE_ABSOLUTE,
                           position=p1, orientation=q1, gripper=0.3))
    out = arb.tick(5.0)
    assert out.state.source == Source.HUMAN
    np.testing.assert_allclose(out.human_action, np.r_[read_ee(bridge, p1, q1)[:4], 0.3], atol=1e-9)


@pytest.mark.parametrize("arm", ["widowx", "yumi"])
def test_joint_space_arms_reach_the_commanded_yaw(arm):
    """WidowX / YuMi: measured joints -> TCP (FK) -> policy yaw + 0.05 -> arbiter -> adapter IK ->
    joints whose FK reads, through the bridge's offset, the commanded x, y, z and yaw."""
    profile = load_arm_profile(arm)
    adapter = WidowXAdapter() if arm == "widowx" else YuMiAdapter()
    chains = [adapter.arm.chain] if arm == "widowx" else [a.chain for a in adapter.arms]
    tool = ToolFrame(ARM_DEFAULTS[arm].ee_offset_xyz, ARM_DEFAULTS[arm].ee_offset_rpy)
    names, joints, tcp_p, tcp_q = [], [], [], []
    for i, chain in enumerate(chains):
        T = transform(profile.home[i], Rotation.from_quat(top_down_tcp(arm, 0.3 * (i + 1))).as_matrix())
        res = solve_ik(chain, T, (chain.lower + chain.upper) / 2, TIGHT)
        assert res.success, res.reason
        names += list(chain.joint_names)
        joints += list(res.q)
        p, q = matrix_to_pose(chain.fk(res.q))
        tcp_p.append(p)
        tcp_q.append(q)
    adapter.set_joint_state(names, joints)
    tcp_p, tcp_q = np.array(tcp_p), np.array(tcp_q)
    seen = np.c_[tool.sim_positions(tcp_p, tcp_q), tool.sim_yaw(tcp_q)]
    target = seen + np.array([0.005, 0.0, -0.005, YAW_STEP])  # within the speed limit per tick
    action = np.c_[target, np.zeros(len(chains))].reshape(-1)
    cmd = arbiter_command(arm, offsets(arm), tcp_p, tcp_q, action)
    res = adapter.step(ArmCommandData(10.0, profile.base_frame, False, list(cmd.positions),
                                      list(cmd.orientations), list(cmd.gripper)))
    assert not res.held, res.reason
    sent = [m for m in res.messages if isinstance(m, JointGroupCommandOut | JointTrajectoryOut)]
    assert len(sent) == len(chains)
    for i, (chain, msg) in enumerate(zip(chains, sent)):
        q = np.array(msg.cmd if isinstance(msg, JointGroupCommandOut) else msg.positions)
        S = chain.fk(q) @ tool.offset
        np.testing.assert_allclose(S[:3, 3], target[i, :3], atol=1e-3)
        assert abs(math.atan2(S[1, 0], S[0, 0]) - target[i, 3]) < np.deg2rad(1.0)
        assert S[2, 2] > math.cos(np.deg2rad(1.0))  # still top-down


def test_franka_mujoco_policy_yaw_reads_back_as_commanded():
    bridge = franka_bridge("mujoco")
    p0, q0 = np.array([0.5, 0.05, 0.2]), top_down_tcp("franka", 0.4)
    ee0 = read_ee(bridge, p0, q0)
    action = np.r_[ee0[:3], ee0[3] + YAW_STEP, 1.0]
    cmd = arbiter_command("franka", {**offsets("franka"), "ee_layout": "mujoco"}, p0[None], q0[None], action)
    ee1 = read_ee(bridge, np.array(cmd.positions[0]), np.array(cmd.orientations[0]))
    np.testing.assert_allclose(ee1[:4], action[:4], atol=1e-6)
    # in the kinematic convention the target is a quarter turn away: the arbiter turns the hand elsewhere
    kin = arbiter_command("franka", offsets("franka"), p0[None], q0[None], action)
    off = read_ee(bridge, np.array(kin.positions[0]), np.array(kin.orientations[0]))[3] - action[3]
    assert abs(math.remainder(off, 2 * math.pi)) > 0.1


@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
def test_tool_frame_yaw_zero_round_trips_in_the_mujoco_layout(arm):
    from hitl_sim.mj.layout import yaw_zero

    d = ARM_DEFAULTS[arm]
    tool = ToolFrame(d.ee_offset_xyz, d.ee_offset_rpy, yaw_zero(arm, "mujoco"))
    yaw = np.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(tool.sim_yaw(tool.tcp_quaternions(yaw)), yaw, atol=1e-9)
