"""The WidowX 250 MJCF (hitl_sim/mj/widowx): same kinematics as the URDF it was written from, a robosuite
Lift with robots="WidowX250" where a scripted top-down pick lifts the cube, and the project's tasks on
arm "widowx": lift (every object), cube_stack and square succeed; drawer and cup_stack say they cannot reach."""

from __future__ import annotations

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")
pytest.importorskip("robosuite")
kin = pytest.importorskip("hitl_teleop.adapters.kinematics")

import hitl_sim.mj  # noqa: E402,F401  (picks MUJOCO_GL before robosuite loads)
from hitl_sim.mj import widowx  # noqa: E402

JOINTS = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]


def test_mjcf_matches_the_urdf_kinematics_and_limits():
    chain = kin.load_chain(kin.kinematics_dir() / "wx250s.urdf", "wx250s/base_link", "wx250s/ee_gripper_link")
    model = mujoco.MjModel.from_xml_path(str(widowx.HERE / "robot.xml"))
    data = mujoco.MjData(model)
    lo = np.array([model.joint(j).range[0] for j in JOINTS])
    hi = np.array([model.joint(j).range[1] for j in JOINTS])
    assert np.allclose(lo, chain.lower, atol=1e-4) and np.allclose(hi, chain.upper, atol=1e-4)
    rng = np.random.default_rng(0)
    hand = model.body("right_hand").id
    for _ in range(20):
        q = rng.uniform(chain.lower, chain.upper)
        data.qpos[:6] = q
        mujoco.mj_kinematics(model, data)
        # the URDF's ee_gripper_link is 0.0506 m in front of ee_arm_link (= right_hand) along the link x,
        # which is the hand's z axis here (the gripper's approach direction)
        tip = data.xpos[hand] + data.xmat[hand].reshape(3, 3)[:, 2] * 0.050575
        assert np.allclose(tip, chain.fk(q)[:3, 3], atol=1e-6)


@pytest.mark.slow
def test_robosuite_lift_with_the_widowx_picks_the_cube():
    import robosuite
    from robosuite.controllers import load_composite_controller_config

    cfg = load_composite_controller_config(controller="BASIC")
    cfg["body_parts"]["right"].update(type="OSC_POSE", input_type="absolute", input_ref_frame="world",
                                      interpolation=None)
    env = robosuite.make("Lift", robots="WidowX250", controller_configs=cfg, has_renderer=False,
                         has_offscreen_renderer=False, use_camera_obs=False, hard_reset=False, control_freq=10,
                         horizon=10**6, ignore_done=True, initialization_noise=None, seed=3)
    try:
        obs = env.reset()
        base = env.sim.data.get_body_xpos("robot0_base").copy()
        rel = obs["robot0_eef_pos"] - base
        assert np.allclose(rel, [0.30, 0.0, 0.20], atol=0.01)  # the home pose: the arm profile's home
        down = np.pi * np.array([1.0, 1.0, 0.0]) / np.sqrt(2)  # axis-angle of the top-down reference
        table_z = env.model.mujoco_arena.table_offset[2]
        cube0 = obs["cube_pos"].copy()

        def go(pos, grip, ticks):
            nonlocal obs
            for _ in range(ticks):
                obs, *_ = env.step(np.r_[pos, down, grip])

        go(cube0 + np.array([0, 0, 0.08]), -1.0, 25)
        go(cube0.copy(), -1.0, 25)
        assert np.linalg.norm(obs["robot0_eef_pos"] - cube0) < 0.015
        go(cube0, 1.0, 10)
        go(cube0 + np.array([0, 0, 0.15]), 1.0, 25)
        assert obs["cube_pos"][2] - table_z > 0.07, obs["cube_pos"]  # lifted, held by the fingers
    finally:
        env.close()


@pytest.mark.slow
def test_the_arm_adapter_drives_the_widowx_with_absolute_targets():
    """arm "widowx" through hitl_sim's robosuite adapter: home = the profile's home, a target pose with a
    yaw and a closed gripper is reached at the profile's speed limit."""
    from hitl_sim.arms import load_arm_profile
    from hitl_sim.mj.robosuite_tasks.arm_control import ArmAdapter, make_suite_env
    from robosuite.environments.manipulation.lift import Lift

    arm = load_arm_profile("widowx")
    env = make_suite_env(Lift, arm)
    try:
        env.reset()
        ad = ArmAdapter(env, arm)
        home = ad.current_action()
        assert np.allclose(home[:3], arm.home[0], atol=0.01) and abs(home[3]) < 0.05 and home[4] < 0.1
        target = np.array([0.36, 0.08, 0.12, 0.5, 1.0])
        for _ in range(40):
            ad.apply(target)
        now = ad.current_action()
        assert np.linalg.norm(now[:3] - target[:3]) < 0.01 and abs(now[3] - target[3]) < 0.1, now
        assert now[4] > 0.9  # closed on nothing
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("typ", [0, 1, 2, 3])
def test_the_lift_expert_lifts_every_object_with_the_widowx(typ):
    """lift on arm "widowx": the cube and each unseen object (round nut, hammer, hook frame; the flat ones
    are 2 cm thick, under the WidowX's 3 cm hand floor: the fingertips reach 15 mm below the hand point)."""
    from hitl_sim.arms import load_arm_profile
    from hitl_sim.mj.robosuite_tasks.lift import LiftExpert, LiftTask

    task = LiftTask(load_arm_profile("widowx"), "train" if typ == 0 else "test")
    try:
        task.reset(np.random.default_rng(0))
        task.set_object(typ, np.array([0.33, -0.05]), 0.7)
        expert = LiftExpert(seed=0)
        for _ in range(task.max_steps):
            task.apply(expert.act(task.state())[0])
            success, failed = task.evaluate()
            assert not failed
            if success:
                break
        assert success and task.obj.lowest() >= 0.05
    finally:
        task.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cube_stack", "square"])
def test_the_stack_and_square_experts_succeed_with_the_widowx(name):
    from hitl_sim.arms import load_arm_profile
    from hitl_sim.mj import expert_class, task_class

    task = task_class(name)(load_arm_profile("widowx"), "test")
    try:
        task.reset(np.random.default_rng(1))
        expert = expert_class(name)(seed=0)
        for _ in range(task.max_steps):
            task.apply(expert.act(task.state())[0])
            success, failed = task.evaluate()
            if success or failed:
                break
        assert success and not failed
    finally:
        task.close()


@pytest.mark.parametrize("name", ["drawer", "cup_stack"])
def test_tasks_out_of_the_widowxs_reach_say_so(name):
    from hitl_sim.arms import load_arm_profile
    from hitl_sim.mj import task_class

    with pytest.raises(ValueError, match="cannot reach"):
        task_class(name)(load_arm_profile("widowx"), "train")
