"""The real-arm observation bridge in the MuJoCo layout (observation_bridge.py, observation_bridge_mj.py):
its vector equals a built MuJoCo environment's ``observe()`` for the same state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hitl_sim.mj.layout import SIM_FINGERS, SIM_YAW_REF, mj_obs_names
from hitl_teleop.adapters.ik import solve_ik
from hitl_teleop.adapters.kinematics import matrix_to_pose, rpy_to_matrix, transform
from hitl_teleop.observation_bridge import (
    BridgeConfig,
    BridgeConfigError,
    ObjectConfig,
    ObservationBridge,
    config_from_params,
)
from test_observation_bridge import TIGHT

TAG = ((0.01, -0.02, 0.03), (0.1, -0.2, 0.5))  # perceived frame -> object body frame
FLIP = transform(np.zeros(3), rpy_to_matrix(np.array([math.pi, 0.0, 0.0])))  # grip site (z down) -> z up
OFF = {"offset_xyz": list(TAG[0]), "offset_rpy": list(TAG[1])}


def _feed_arm(b: ObservationBridge, T_sims: list[np.ndarray], real_fingers: list[list[float]], t: float) -> None:
    names, pos = [], []
    for k, T_sim in enumerate(T_sims):
        T_tcp = T_sim @ np.linalg.inv(b.tool.offset)
        if b.chains:
            c = b.chains[k]
            res = solve_ik(c, T_tcp, (c.lower + c.upper) / 2, TIGHT)
            assert res.success, f"IK: {res.reason}"
            names += list(c.joint_names)
            pos += list(res.q)
        else:
            p, q = matrix_to_pose(T_tcp)
            assert b.on_ee_pose(p, q, b.base_frame, t, t) == ""
        names += list(b.finger_joints[k])
        pos += real_fingers[k]
    assert b.on_joint_state(names, pos, t, t) == ""


def _feed_object(b: ObservationBridge, name: str, T_obj: np.ndarray, t: float) -> None:
    off = transform(np.array(TAG[0]), rpy_to_matrix(np.array(TAG[1])))
    p, q = matrix_to_pose(T_obj @ np.linalg.inv(off))
    assert b.on_object_pose(name, p, q, b.base_frame, t, t) == ""


def _real_fingers(arm: str, sim_q: np.ndarray, b: ObservationBridge) -> list[float]:
    """Real finger joint values whose documented mapping gives the simulated joints ``sim_q``."""
    closed, opened = b.finger_range
    fr = [abs(q - c) / abs(o - c) for q, (o, c) in zip(sim_q, SIM_FINGERS[arm])]
    real = [closed + f * (opened - closed) for f in fr]
    if arm == "widowx":
        return [real[0], -real[1]]
    return real[:len(b.finger_joints[0])] if arm == "yumi" else real


@pytest.mark.slow
@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
def test_lift_vector_equals_the_mujoco_envs_observation(arm):
    import hitl_sim

    env = hitl_sim.make_env("lift", arm, backend="mujoco", seed=3)
    env.reset()
    task = env.tasks[0]
    ad = task.adapter
    # a tilted, turned object and half-open, uneven fingers
    rot = rpy_to_matrix(np.array([0.3, -0.2, 2.0]))
    xy = ad.ee_pos(0)[:2] + np.array([0.05, -0.03])
    task.obj.set_pose(np.array([xy[0], xy[1], 0.04]), rot)
    for k in range(ad.n_arms):
        for i, (adr, o, c) in enumerate(ad._fingers[k]):
            frac = 0.6 if (arm == "yumi" or i == 0) else 0.45
            ad.env.sim.data.qpos[adr] = c + frac * (o - c)
    ad.env.sim.forward()
    want = env.observe()[0]
    b = ObservationBridge(BridgeConfig(arm=arm, task="lift", objects={
        "obj": ObjectConfig("obj", "/perception/object_pose", offset_xyz=TAG[0], offset_rpy=TAG[1])}))
    assert b.names == env.obs_names
    T_sims = []
    for k in range(ad.n_arms):
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = ad.ee_rot(k), ad.ee_pos(k)  # the grip site frame at the pads' centre
        T_sims.append(T @ FLIP)  # z up, x the same (the bridge's end-effector frame; observation_bridge_mj)
    fingers = [_real_fingers(arm, ad.finger_qpos(k), b) for k in range(ad.n_arms)]
    _feed_arm(b, T_sims, fingers, 1.0)
    T_obj = np.eye(4)
    T_obj[:3, :3], T_obj[:3, 3] = task.obj.rot(), task.obj.pos()
    _feed_object(b, "obj", T_obj, 1.0)
    out = b.build(1.05)
    assert out.ok, out.reason
    for name, got, exp in zip(b.names, out.data, want):
        assert got == pytest.approx(float(exp), abs=1e-4), name


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lift", "square", "cube_stack", "cup_stack", "drawer"])
def test_declared_layout_equals_the_built_envs(task):
    import hitl_sim

    for arm in (["franka", "widowx", "yumi"] if task == "lift" else ["franka"]):
        env = hitl_sim.make_env(task, arm, backend="mujoco")
        ad = env.tasks[0].adapter
        assert mj_obs_names(task, env.n_arms) == env.obs_names
        for k in range(env.n_arms):
            got = [v for _adr, o, c in ad._fingers[k] for v in (o, c)]
            assert got == pytest.approx([v for pair in SIM_FINGERS[arm] for v in pair]), arm
        assert ad.yaw_ref == SIM_YAW_REF[arm]


def _franka_cup_stack(max_age: float = 0.5) -> ObservationBridge:
    return ObservationBridge(config_from_params({
        "arm": "franka", "task": "cup_stack",
        "objects": {"a": {"topic": "/a", **OFF}, "b": {"topic": "/b", "max_age_s": max_age, **OFF}}}))


def test_cup_stack_keeps_the_last_seen_pose_and_flags_occlusion():
    b = _franka_cup_stack()
    i = {n: b.names.index(n) for n in ("b_seen_x", "b_seen_y", "b_seen_z", "occluded", "a_x")}
    _feed_arm(b, [transform(np.array([0.5, 0.0, 0.2]), rpy_to_matrix(np.array([math.pi, 0, 0])))],
              [[0.02, 0.02]], 0.0)
    _feed_object(b, "b", transform(np.array([0.55, 0.1, 0.0]), np.eye(3)), 0.0)
    _feed_object(b, "a", transform(np.array([0.5, -0.1, 0.0]), np.eye(3)), 0.0)
    out = b.build(0.1)
    assert out.ok, out.reason
    seen = out.data[[i["b_seen_x"], i["b_seen_y"], i["b_seen_z"]]]
    assert out.data[i["occluded"]] == 0.0
    # B hidden (no fresh pose for 1 s) while A and the arm keep updating: last seen value, occluded = 1
    _feed_arm(b, [transform(np.array([0.55, 0.1, 0.2]), rpy_to_matrix(np.array([math.pi, 0, 0])))],
              [[0.01, 0.01]], 1.0)
    _feed_object(b, "a", transform(np.array([0.55, 0.1, 0.1]), np.eye(3)), 1.0)
    out = b.build(1.0)
    assert out.ok, out.reason
    assert out.data[i["occluded"]] == 1.0
    np.testing.assert_allclose(out.data[[i["b_seen_x"], i["b_seen_y"], i["b_seen_z"]]], seen)
    assert out.data[i["a_x"]] != pytest.approx(0.5, abs=1e-3)  # A itself is still live
    # B seen again (moved meanwhile): the new value, occluded = 0
    _feed_object(b, "b", transform(np.array([0.6, 0.12, 0.0]), np.eye(3)), 1.0)
    out = b.build(1.0)
    assert out.data[i["occluded"]] == 0.0 and out.data[i["b_seen_x"]] != pytest.approx(seen[0])


def test_cup_stack_needs_b_seen_once_and_a_fresh():
    b = _franka_cup_stack()
    _feed_arm(b, [transform(np.array([0.5, 0.0, 0.2]), rpy_to_matrix(np.array([math.pi, 0, 0])))],
              [[0.02, 0.02]], 5.0)
    _feed_object(b, "a", transform(np.array([0.5, -0.1, 0.0]), np.eye(3)), 0.0)
    out = b.build(5.0)
    assert not out.ok and "no pose yet for object 'b'" in out.reason and "object 'a' pose on /a stale" in out.reason


def test_drawer_cabinet_pose_and_configured_openings():
    params = {"arm": "franka", "task": "drawer", "objects": {"cab": {"topic": "/cabinet", **OFF}}}
    with pytest.raises(BridgeConfigError, match=r"no source for observation entries \['open_0', 'open_1', 'open_2'\]"):
        ObservationBridge(config_from_params(params))
    b = ObservationBridge(config_from_params({**params, "constants": {"open_0": 0.0, "open_1": 0.0, "open_2": 0.0}}))
    _feed_arm(b, [transform(np.array([0.5, 0.0, 0.2]), rpy_to_matrix(np.array([math.pi, 0, 0])))],
              [[0.04, 0.04]], 0.0)
    _feed_object(b, "cab", transform(np.array([0.6, 0.05, 0.0]), rpy_to_matrix(np.array([0, 0, 0.15]))), 0.0)
    out = b.build(0.0)
    assert out.ok, out.reason
    got = dict(zip(b.names, out.data))
    assert (got["cab_x"], got["cab_y"], got["cab_yaw"]) == pytest.approx((0.6, 0.05, 0.15))
    assert (got["gripper"], got["finger_0"], got["finger_1"]) == pytest.approx((0.0, 0.04, -0.04))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"task": "threading"}, "no real-arm observation layout for MuJoCo task 'threading'"),
        ({"simulator": "bullet"}, "unknown simulator 'bullet'"),
        ({"constants": {"obj_colour": [1]}}, "no configurable observation entry 'obj_colour'"),
        ({"objects": {"cube": {"topic": "/p"}}}, r"no source for observation entries \['obj_x'"),
        ({"objects": {"obj": {"topic": "/p"}, "cup": {"topic": "/q"}}}, r"\['cup'\] configured"),
        ({"fields": {"obj_x": "obj.nose"}}, r"no source for observation entries \['obj_x'\]"),
        ({"finger_range": [0.04, 0.0]}, "finger_range must be"),
    ],
)
def test_mujoco_layout_configuration_errors_are_one_line(params, match):
    base = {"arm": "franka", "task": "lift", "objects": {"obj": {"topic": "/p"}}}
    with pytest.raises(BridgeConfigError, match=match) as err:
        ObservationBridge(config_from_params({**base, **params}))
    assert "\n" not in str(err.value)


def _shipped(arm: str, task: str) -> dict:
    from test_observation_bridge import shipped_params

    params = shipped_params(arm, task)
    params.pop("simulator")  # the default: mujoco
    return params


@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
@pytest.mark.parametrize("task", ["lift", "cube_stack", "cup_stack"])
def test_shipped_yamls_build_the_mujoco_layout_by_default(arm, task):
    b = ObservationBridge(config_from_params(_shipped(arm, task)))
    assert b.mujoco and b.names == mj_obs_names(task, b.n_arms)


def test_shipped_drawer_yaml_refuses_without_measured_openings():
    with pytest.raises(BridgeConfigError, match=r"\['open_0', 'open_1', 'open_2'\]"):
        ObservationBridge(config_from_params(_shipped("franka", "drawer")))


def test_the_bridge_never_imports_mujoco_or_robosuite():
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hitl_teleop.observation_bridge import ObservationBridge, config_from_params\n"
        "b = ObservationBridge(config_from_params({'arm': 'yumi', 'task': 'cup_stack', "
        "'objects': {'a': {'topic': '/a'}, 'b': {'topic': '/b'}}}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mujoco', 'robosuite')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # this checkout's packages
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_franka_ready_pose_reads_the_panda_homes_yaw():
    """Franka's ready pose (TCP quaternion (1, 0, 0, 0): z down, fingers along base y) reads MuJoCo yaw 0,
    as robosuite's Panda at its home (yaw 0.0005 there), not pi (the wrap boundary) with the default offset."""
    b = ObservationBridge(config_from_params({"arm": "franka", "task": "lift", "objects": {"obj": {"topic": "/p"}}}))
    assert b.on_ee_pose([0.31, 0.0, 0.49], [1.0, 0.0, 0.0, 0.0], b.base_frame, 1.0, 1.0) == ""
    assert b.on_joint_state(["fr3_finger_joint1", "fr3_finger_joint2"], [0.04, 0.04], 1.0, 1.0) == ""
    assert b.on_object_pose("obj", [0.5, 0.0, 0.02], [0, 0, 0, 1], b.base_frame, 1.0, 1.0) == ""
    out = b.build(1.0)
    assert out.ok, out.reason
    assert out.ee[0, 3] == pytest.approx(0.0, abs=1e-12) and out.ee[0, 4] == pytest.approx(0.0)


@pytest.mark.slow
def test_yumi_real_chain_at_the_sims_joints_reads_the_sims_yaw():
    """The YuMi's real kinematic chain (yumi_chain, the bundled URDF) at robosuite's joint angles, through
    the default TCP offsets, gives the MuJoCo task's yaw and x, y. z is 2.2 cm lower than the simulator's
    point (measured: 0.3006 vs 0.3226 m at this pose): the sim's point lies 17 mm past robosuite's grip
    site (arm_control.TCP_OFFSET) and the models differ; docs/arms.md says to check ee_offset_xyz."""
    import hitl_sim

    env = hitl_sim.make_env("lift", "yumi", backend="mujoco", seed=3)
    env.reset()
    ad = env.tasks[0].adapter
    sim = ad.env.sim
    joints = list(ad.robot.robot_joints)
    positions = [float(sim.data.qpos[sim.model.get_joint_qpos_addr(j)]) for j in joints]
    b = ObservationBridge(config_from_params({"arm": "yumi", "task": "lift", "objects": {"obj": {"topic": "/p"}}}))
    names = [j.removeprefix(ad.robot.robot_model.naming_prefix) for j in joints]
    assert b.on_joint_state([*names, "gripper_l_joint", "gripper_r_joint"], [*positions, 0.025, 0.025], 1.0, 1.0) == ""
    assert b.on_object_pose("obj", [0.5, 0.0, 0.02], [0, 0, 0, 1], b.base_frame, 1.0, 1.0) == ""
    out = b.build(1.0)
    assert out.ok, out.reason
    for k in range(2):
        assert out.ee[k, 3] == pytest.approx(ad.ee_yaw(k), abs=2e-3)
        np.testing.assert_allclose(out.ee[k, :2], ad.ee_pos(k)[:2], atol=5e-3)
