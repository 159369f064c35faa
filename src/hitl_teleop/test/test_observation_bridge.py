"""Observation bridge (pure): joint state / measured pose + object poses -> exactly the simulator's
observation; staleness, NaN, gripper mapping, configuration errors, YuMi's end-effector order, episodes.

The bridge reproduces the KINEMATIC simulator's observation layout (backend="kinematic" below); the
MuJoCo tasks' layouts (hitl_sim.mj) are not bridged yet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hitl_sim.tasks.base import OBJECTS
from hitl_teleop.adapters.ik import IKParams, solve_ik
from hitl_teleop.adapters.kinematics import matrix_to_pose, rpy_to_matrix, transform
from hitl_teleop.observation_bridge import (
    ARM_DEFAULTS,
    BridgeConfig,
    BridgeConfigError,
    Episodes,
    ObjectConfig,
    ObservationBridge,
    config_from_params,
)

import hitl_sim

CONFIG = Path(__file__).resolve().parents[2] / "hitl_bringup" / "config"
TIGHT = IKParams(pos_tol=1e-9, rot_tol=1e-9, max_iters=300, restarts=8)
# a tag off the object's origin, mounted tilted and turned (perceived frame -> object base frame)
TAG = {"offset_xyz": (0.01, -0.02, -0.04), "offset_rpy": (0.1, -0.2, 0.5)}


def shipped_params(arm: str, task: str) -> dict:
    """The node's parameters as hitl_bringup's arm and task YAMLs give them (deploy.yaml adds the rest)."""
    arm_cfg = yaml.safe_load((CONFIG / "arms" / f"{arm}.yaml").read_text())["nodes"]["observation_bridge"]
    task_cfg = yaml.safe_load((CONFIG / "tasks" / f"{task}.yaml").read_text())["nodes"]
    return {"arm": arm, "task": task, "simulator": "kinematic", **arm_cfg, **(task_cfg.get("observation_bridge") or {})}


def make_bridge(arm: str, task: str = "lift", **kw) -> ObservationBridge:
    objects = kw.pop("objects", {"obj": ObjectConfig("obj", "/perception/object_pose", type="cube")})
    kw.setdefault("simulator", "kinematic")
    return ObservationBridge(BridgeConfig(arm=arm, task=task, objects=objects, **kw))


def finger_positions(arm: str, grip: float, max_width: float) -> list[float]:
    """Finger joint values of an opening ``(1 - grip) * max_width`` (the inverse of the documented mapping)."""
    w = (1.0 - grip) * max_width
    return {"franka": [w / 2, w / 2], "widowx": [w / 2, -w / 2], "yumi": [w / 2]}[arm]


class Feeder:
    """Turns a simulator configuration into the messages a real arm and its perception would send."""

    def __init__(self, bridge: ObservationBridge, arm: str):
        self.b, self.arm = bridge, arm
        self.seeds: list[np.ndarray | None] = [None] * bridge.n_arms

    def tcp(self, ee_row: np.ndarray) -> np.ndarray:
        """TCP pose whose simulator end effector is ``ee_row`` (x, y, z, yaw)."""
        S = transform(ee_row[:3], rpy_to_matrix(np.array([0.0, 0.0, ee_row[3]])))
        return S @ np.linalg.inv(self.b.tool.offset)

    def arm_state(self, ee: np.ndarray, t: float) -> None:
        names, pos = ["unrelated_joint"], [123.0]
        for i in range(self.b.n_arms):
            T = self.tcp(ee[i])
            if self.b.chains:
                c = self.b.chains[i]
                seed = self.seeds[i] if self.seeds[i] is not None else (c.lower + c.upper) / 2
                res = solve_ik(c, T, seed, TIGHT)
                assert res.success, f"{self.arm}: IK found no joints for {ee[i]}: {res.reason}"
                self.seeds[i] = res.q
                names += list(c.joint_names)
                pos += list(res.q)
            else:
                p, q = matrix_to_pose(T)
                assert self.b.on_ee_pose(p, q, self.b.base_frame, t, t) == ""
            names += list(self.b.finger_joints[i])
            pos += finger_positions(self.arm, ee[i, 4], self.b.profile.gripper_max_width)
        order = np.random.default_rng(len(names)).permutation(len(names))  # any order, as joint_states
        assert self.b.on_joint_state([names[k] for k in order], [pos[k] for k in order], t, t) == ""

    def object(self, name: str, pos: np.ndarray, yaw: float, t: float) -> None:
        obj = self.b.cfg.objects[name]
        T_obj = transform(pos, rpy_to_matrix(np.array([0.0, 0.0, yaw])))
        T_tag = T_obj @ np.linalg.inv(transform(np.array(obj.offset_xyz), rpy_to_matrix(np.array(obj.offset_rpy))))
        p, q = matrix_to_pose(T_tag)
        assert self.b.on_object_pose(name, p, q, self.b.base_frame, t, t) == ""


def ready(arm: str, task: str = "lift", **kw) -> tuple[ObservationBridge, Feeder]:
    """A bridge fed with the simulator's first lift configuration at t = 10 s."""
    b = make_bridge(arm, task, **kw)
    env = hitl_sim.make_env(task, arm, seed=1, backend="kinematic")
    f = Feeder(b, arm)
    f.arm_state(env.current_action()[0].reshape(b.n_arms, 5), 10.0)
    L = env.task.state_layout
    f.object("obj", env.ts[0, L.slices["obj_pos"]], float(env.ts[0, L.slices["obj_yaw"]][0]), 10.0)
    return b, f


# ---------------------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
def test_vector_from_arm_state_and_object_pose_equals_the_simulators_observation(arm):
    """Episodes of the mixed lift variant (every object type), expert-driven through grasp and lift: at
    each sampled tick the joint state (IK of the simulator's end effector; Franka: its measured pose),
    the fingers and a tag pose on the object must give env.observe's vector, entry for entry."""
    env = hitl_sim.make_env("lift", arm, variant="mixed", seed=3, backend="kinematic")
    expert = hitl_sim.make_expert("lift", backend="kinematic")
    L = env.task.state_layout
    types, held, checked, seeds = set(), 0, 0, None
    for episode in range(20):
        if len(types) == 4 and episode >= 6:
            break
        obs = env.reset(seeds=[episode])
        typ = int(env.ts[0, L.slices["obj_type"]][0])
        types.add(typ)
        b = make_bridge(arm, objects={"obj": ObjectConfig("obj", "/tag", type=OBJECTS[typ].name, **TAG)})
        assert b.names == env.obs_names
        f = Feeder(b, arm)
        f.seeds = seeds or f.seeds
        for k in range(40):
            if k % 8 == 0:
                t = 100.0 * episode + k
                f.arm_state(env.current_action()[0].reshape(b.n_arms, 5), t)
                f.object("obj", env.ts[0, L.slices["obj_pos"]], float(env.ts[0, L.slices["obj_yaw"]][0]), t)
                out = b.build(t + 0.05)
                assert out.ok, out.reason
                np.testing.assert_allclose(out.data, obs[0], atol=2e-5, err_msg=f"{arm} episode {episode} tick {k}")
                held += int(env.ts[0, L.slices["obj_grasped"]][0] >= 0)
                checked += 1
            obs, info = env.step(expert.act(env.get_state(), obs))
            if info["done"][0]:
                break
        seeds = f.seeds
    assert types == {0, 1, 2, 3} and checked >= 20 and held >= 2, (types, checked, held)


def test_tcp_poses_are_published_as_measured_and_yaw_is_the_closing_direction():
    b, _ = ready("franka")
    # Franka's ready pose: TCP x along base x, z down, fingers close along TCP y = base -y -> yaw +-pi/2
    assert b.on_ee_pose([0.45, 0.0, 0.4], [1.0, 0.0, 0.0, 0.0], "fr3_link0", 10.0, 10.0) == ""
    out = b.build(10.05)
    assert out.ok, out.reason
    assert abs(abs(out.ee[0, 3]) - math.pi / 2) < 1e-9
    np.testing.assert_allclose(out.tcp_positions[0], [0.45, 0.0, 0.4])
    np.testing.assert_allclose(np.abs(out.tcp_quaternions[0]), [1.0, 0.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize(
    "arm, closing, out_of_gripper",
    [("franka", [0, 1, 0], [0, 0, 1]), ("widowx", [0, 1, 0], [1, 0, 0]), ("yumi", [1, 0, 0], [0, 0, 1])],
)
def test_default_offsets_map_the_closing_axis_to_yaw_and_the_approach_axis_to_down(arm, closing, out_of_gripper):
    """In TCP coordinates the simulator frame's x is the fingers' closing axis (yaw 0: fingers close along
    base x) and its z is opposite to the axis pointing out of the gripper (a top-down grasp: z up)."""
    R = make_bridge(arm).tool.offset[:3, :3]
    np.testing.assert_allclose(np.abs(R[:, 0]), closing, atol=1e-12)
    np.testing.assert_allclose(R[:, 2], -np.array(out_of_gripper, float), atol=1e-12)


def test_widowx_pointing_down_by_forward_kinematics():
    """wrist_angle +90 deg from the zero pose points ee_gripper_link's x down: the simulator frame is level."""
    b = make_bridge("widowx")
    q = {n: 0.0 for n in b.required_joints}
    q.update(wrist_angle=math.pi / 2, left_finger=0.037, right_finger=-0.037)
    b.on_joint_state(list(q), list(q.values()), 1.0, 1.0)
    b.on_object_pose("obj", [0.3, 0.0, 0.0], [0, 0, 0, 1], "wx250s/base_link", 1.0, 1.0)
    out = b.build(1.0)
    S = b.chains[0].fk(np.array([q[n] for n in b.chains[0].joint_names])) @ b.tool.offset
    np.testing.assert_allclose(S[:3, 2], [0, 0, 1], atol=1e-9)
    assert abs(abs(out.ee[0, 3]) - math.pi / 2) < 1e-9  # fingers close along base y
    assert out.ee[0, 4] == 0.0


# ---------------------------------------------------------------------------------------- staleness
def test_stale_or_missing_inputs_are_named_in_one_line_and_nothing_is_built():
    b = make_bridge("widowx")
    out = b.build(1.0)
    assert not out.ok and "\n" not in out.reason
    assert "no joint state yet" in out.reason and "/wx250s/joint_states" in out.reason
    assert "no pose yet for object 'obj' on /perception/object_pose" in out.reason
    b, _ = ready("widowx")
    assert b.build(10.1).ok
    out = b.build(10.0 + 0.3)  # joint states 0.3 s old (max 0.2), object 0.3 s old (max 0.5)
    assert not out.ok and "joint state of" in out.reason and "0.30 s old (max 0.20 s)" in out.reason
    assert "object" not in out.reason
    out = b.build(10.0 + 0.6)
    assert "object 'obj' pose on /perception/object_pose stale (0.60 s old (max 0.50 s))" in out.reason
    assert out.data is None


def test_per_object_max_age_and_future_stamps():
    objects = {"obj": ObjectConfig("obj", "/p", type="cube", max_age_s=0.05)}
    b, _ = ready("yumi", objects=objects)
    assert b.build(10.04).ok and "object 'obj'" in b.build(10.06).reason
    b, _ = ready("widowx")
    out = b.build(9.0)  # the inputs are stamped a second ahead of this clock
    assert not out.ok and "in the future" in out.reason


def test_franka_needs_its_measured_pose():
    b = make_bridge("franka")
    assert "no ee pose yet on /franka_robot_state_broadcaster/current_pose" in b.build(0.0).reason


# ---------------------------------------------------------------------------------------- rejected input
def test_nan_and_inf_inputs_are_rejected_counted_and_not_used():
    b, _ = ready("widowx")
    good = b.build(10.05)
    assert good.ok
    names = list(b.chains[0].joint_names)
    reason = b.on_joint_state(names, [0.1, math.nan, 0.0, 0.0, 0.0, 0.0], 10.1, 10.1)
    assert reason == "joint_states: non-finite position for ['shoulder']"
    assert b.rejected["joint_states non-finite"] == 1
    assert b.joints["waist"][1] == 10.0  # nothing of the bad message was stored
    np.testing.assert_array_equal(b.build(10.05).data, good.data)
    assert "joint state of" in b.build(10.25).reason  # the old values age: no observation from them
    assert b.on_object_pose("obj", [0.3, math.inf, 0.0], [0, 0, 0, 1], b.base_frame, 11, 11) != ""
    zero = b.on_object_pose("obj", [0.3, 0.0, 0.0], [0, 0, 0, 0], b.base_frame, 11, 11)
    assert zero == "object 'obj': zero quaternion"
    assert "frame 'camera'" in b.on_object_pose("obj", [0.3, 0.0, 0.0], [0, 0, 0, 1], "camera", 11, 11)
    assert b.on_joint_state(["waist"], [0.0, 1.0], 11, 11).startswith("joint_states: 1 names but 2")
    assert b.rejected == {
        "joint_states non-finite": 1,
        "object 'obj' non-finite": 1,
        "object 'obj' zero quaternion": 1,
        "object 'obj' wrong frame": 1,
        "joint_states malformed": 1,
    }
    assert b.object_poses["obj"].stamp == 10.0


def test_non_finite_values_of_joints_the_bridge_does_not_need_are_ignored():
    b, _ = ready("widowx")
    assert b.on_joint_state(["some_other_joint"], [math.nan], 10.1, 10.1) == ""
    assert not b.rejected


# ---------------------------------------------------------------------------------------- gripper
@pytest.mark.parametrize(
    "arm, fingers, expected",
    [
        ("franka", {"fr3_finger_joint1": 0.04, "fr3_finger_joint2": 0.04}, [0.0]),  # fully open: 8 cm
        ("franka", {"fr3_finger_joint1": 0.0, "fr3_finger_joint2": 0.0}, [1.0]),
        ("franka", {"fr3_finger_joint1": 0.02, "fr3_finger_joint2": 0.02}, [0.5]),  # a 4 cm cube held
        ("widowx", {"left_finger": 0.037, "right_finger": -0.037}, [0.0]),  # xs_sdk open: 7.4 cm
        ("widowx", {"left_finger": 0.015, "right_finger": -0.015}, [1 - 0.03 / 0.074]),  # xs_sdk closed
        ("yumi", {"gripper_l_joint": 0.025, "gripper_r_joint": 0.0}, [0.0, 1.0]),  # left open, right shut
        ("yumi", {"gripper_l_joint": 0.01, "gripper_r_joint": 0.02}, [0.6, 0.2]),
        ("yumi", {"gripper_l_joint": 0.04, "gripper_r_joint": -0.001}, [0.0, 0.96]),  # clipped / |.|
    ],
)
def test_gripper_opening_maps_to_zero_open_one_closed(arm, fingers, expected):
    b = make_bridge(arm)
    assert b.on_joint_state(list(fingers), list(fingers.values()), 1.0, 1.0) == ""
    np.testing.assert_allclose(b.gripper(), expected, atol=1e-12)


def test_gripper_holding_a_catalogue_object_matches_the_simulators_grasp_value():
    """The simulator holds an object of width W at g = 1 - W / gripper_max_width (grasp_physics)."""
    for arm in ("franka", "widowx", "yumi"):
        b = make_bridge(arm)
        width = OBJECTS[0].width
        vals = {n: width / b.finger_scale / len(g) for g in b.finger_joints for n in g}
        b.on_joint_state(list(vals), list(vals.values()), 1.0, 1.0)
        assert b.gripper()[0] == pytest.approx(1 - width / b.profile.gripper_max_width)


# ---------------------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    "task, missing",
    [
        ("drawer", "['front_x', 'cab_y', 'heights', 'opening']"),
        ("cup_stack", "['b_seen', 'occluded']"),
        ("push3", "['goals']"),
    ],
)
def test_tasks_whose_observation_perception_cannot_provide_fail_at_start(task, missing):
    with pytest.raises(BridgeConfigError, match="no source for observation entries") as err:
        ObservationBridge(config_from_params(shipped_params("franka", task)))
    assert missing in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
@pytest.mark.parametrize("task", ["lift", "cube_stack", "threading", "nav"])
def test_shipped_arm_and_task_yamls_build_a_bridge_with_the_simulators_names(arm, task):
    b = ObservationBridge(config_from_params(shipped_params(arm, task)))
    assert b.names == hitl_sim.make_env(task, arm, backend="kinematic").obs_names
    d = ARM_DEFAULTS[arm]
    assert (b.joint_states_topic, b.ee_pose_topic, b.finger_joints) == (
        d.joint_states_topic, d.ee_pose_topic, d.finger_joints
    )
    np.testing.assert_allclose(b.tool.offset[:3, :3], rpy_to_matrix(np.array(d.ee_offset_rpy)), atol=1e-12)


def test_cube_stack_and_threading_vectors_match_the_simulator():
    """Tasks with two objects (one outside the catalogue) and a configured constant."""
    for task in ("cube_stack", "threading"):
        env = hitl_sim.make_env(task, "widowx", variant="train", seed=5, backend="kinematic")
        b = ObservationBridge(config_from_params(shipped_params("widowx", task)))
        f = Feeder(b, "widowx")
        f.arm_state(env.current_action()[0].reshape(1, 5), 1.0)
        L = env.task.state_layout
        for name in b.cfg.objects:
            key = {"ring": "ring_pos"}.get(name, f"{name}_pos")
            yaw_key = f"{name}_yaw"
            yaw = float(env.ts[0, L.slices[yaw_key]][0]) if yaw_key in L.slices else 0.0
            f.object(name, env.ts[0, L.slices[key]], yaw, 1.0)
        out = b.build(1.0)
        assert out.ok, out.reason
        np.testing.assert_allclose(out.data, env.observe()[0], atol=2e-5, err_msg=task)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"objects": {"obj": {"topic": "/p", "type": "teapot"}}}, "unknown type 'teapot'"),
        ({"objects": {"obj": {"topic": "/p"}}}, "needs a catalogue type"),
        ({"objects": {"obj": {"topic": ""}}}, "has no topic"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube", "colour": "red"}}}, "unknown key"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}, "cup": {"topic": "/q"}}}, r"\['cup'\] configured"),
        ({"objects": {"ob": {"topic": "/p", "type": "cube"}}}, "no source for observation entries"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "constants": {"obj_radius": [1, 2]}}, "needs 1"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "constants": {"colour": [1]}}, "no observation entry"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "fields": {"obj_pos": "obj.xy"}}, "has 2 value"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "fields": {"obj_pos": "obj.nose"}}, "<object>.<attr>"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "gain": 3}, "unknown observation bridge setting"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "finger_joints": ["a", "b"]}, "one non-empty"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "ee_offset_rpy": [0, 1]}, "3 finite numbers"),
        ({"objects": {"obj": {"topic": "/p", "type": "cube"}}, "object_max_age_s": 0.0}, "must be > 0"),
        ({"task": "fly"}, "unknown task"),
        ({"arm": "ur5"}, "unknown arm"),
    ],
)
def test_bad_configuration_fails_at_start_with_one_line(params, match):
    with pytest.raises(BridgeConfigError, match=match) as err:
        ObservationBridge(config_from_params({"arm": "widowx", "task": "lift", "simulator": "kinematic", **params}))
    assert "\n" not in str(err.value)


def test_dotted_parameter_names_equal_nested_ones():
    """ROS parameter files and launch_ros hand nested YAML to the node as dotted names."""
    nested = config_from_params(shipped_params("yumi", "threading"))
    flat = {"arm": "yumi", "task": "threading", "simulator": "kinematic", "constants.hole_r": [0.014],
            "objects.rod.topic": "/perception/rod_pose", "objects.rod.type": "rod",
            "objects.ring.topic": "/perception/ring_pose"}
    arm_cfg = {k: v for k, v in shipped_params("yumi", "threading").items() if k not in ("objects", "constants")}
    assert config_from_params({**arm_cfg, **flat}) == nested
    assert nested.objects["rod"] == ObjectConfig("rod", "/perception/rod_pose", type="rod")


def test_empty_values_mean_the_arms_defaults_and_ee_pose_topic_can_switch_to_fk():
    cfg = config_from_params({"arm": "widowx", "task": "nav", "simulator": "kinematic", "joint_states_topic": "",
                              "finger_joints": [""], "finger_scale": 0.0, "ee_offset_rpy": []})
    b = ObservationBridge(cfg)
    assert b.joint_states_topic == "/wx250s/joint_states" and b.finger_joints == (("left_finger", "right_finger"),)
    assert b.finger_scale == 1.0
    with pytest.raises(BridgeConfigError, match="no kinematic model"):
        ObservationBridge(config_from_params({"arm": "franka", "task": "nav", "simulator": "kinematic",
                                              "ee_pose_topic": ""}))


def test_symmetric_objects_fold_their_yaw():
    cube = {"obj": ObjectConfig("obj", "/p", type="cube", yaw_period=math.pi / 2)}
    b, f = ready("widowx", objects=cube)
    f.object("obj", np.array([0.3, 0.0, 0.0]), 1.2, 10.0)
    data = b.build(10.05).data
    assert data[b.names.index("obj_yaw")] == pytest.approx(1.2 - math.pi / 2)
    b, f = ready("widowx")
    f.object("obj", np.array([0.3, 0.0, 0.0]), 1.2, 10.0)
    assert b.build(10.05).data[b.names.index("obj_yaw")] == pytest.approx(1.2)


# ---------------------------------------------------------------------------------------- YuMi
def test_yumi_end_effectors_are_left_then_right():
    b = make_bridge("yumi")
    assert b.names[:10] == [f"{s}_{f}" for s in ("left", "right") for f in ("x", "y", "z", "yaw", "gripper")]
    left, right = b.chains
    assert left.tip == "yumi_link_7_l_tcp" and right.tip == "yumi_link_7_r_tcp"
    home = {"l": [0.74, -0.55, 0.05, 0.79, 0.47, 0.28, -0.09], "r": [-0.75, -0.55, -0.05, 0.79, -0.47, 0.28, 0.1]}
    # right arm first in the message, grippers: left closed, right open
    names = [*right.joint_names, *left.joint_names, "gripper_r_joint", "gripper_l_joint"]
    b.on_joint_state(names, [*home["r"], *home["l"], 0.025, 0.0], 1.0, 1.0)
    b.on_object_pose("obj", [0.4, 0.0, 0.0], [0, 0, 0, 1], "yumi_base_link", 1.0, 1.0)
    out = b.build(1.0)
    assert out.ok, out.reason
    np.testing.assert_allclose(out.tcp_positions[0], left.fk(np.array(home["l"]))[:3, 3])
    np.testing.assert_allclose(out.tcp_positions[1], right.fk(np.array(home["r"]))[:3, 3])
    assert out.data[b.names.index("left_y")] > 0.1 and out.data[b.names.index("right_y")] < -0.1
    assert out.data[b.names.index("left_gripper")] == 1.0 and out.data[b.names.index("right_gripper")] == 0.0
    assert list(out.ee[:, 4]) == [1.0, 0.0]


def test_yumi_waits_for_both_arms():
    b = make_bridge("yumi")
    left = b.chains[0]
    b.on_joint_state([*left.joint_names, "gripper_l_joint"], [0.0] * 8, 1.0, 1.0)
    b.on_object_pose("obj", [0.4, 0.0, 0.0], [0, 0, 0, 1], "yumi_base_link", 1.0, 1.0)
    reason = b.build(1.0).reason
    assert "yumi_joint_1_r" in reason and "gripper_r_joint" in reason and "yumi_joint_1_l" not in reason


# ---------------------------------------------------------------------------------------- episodes
def test_episode_and_step_counters():
    e = Episodes(max_steps=3)
    assert e.published() == []  # nothing before the first start
    assert [(x.kind, x.episode) for x in e.start()] == [("start", 1)]
    assert e.step == 0
    e.published()
    assert e.step == 1
    e.published()
    assert [(x.kind, x.steps, x.note) for x in e.published()] == [("end", 3, "timeout")]
    assert not e.running and e.published() == [] and e.step == 3
    assert [x.kind for x in e.start()] == ["start"] and e.episode == 2
    e.published()
    events = e.reset(hard=True)
    assert [(x.kind, x.episode, x.note) for x in events] == [
        ("end", 2, "reset (hard)"), ("reset", 2, "hard"), ("start", 3, "")
    ]
    events = e.start()
    assert [(x.kind, x.note) for x in events] == [("end", "ended by start_episode"), ("start", "")]
    assert e.episode == 4 and e.step == 0
