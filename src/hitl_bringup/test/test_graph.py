"""The one graph description: build_graph, and the launch files vs the runner (same nodes, parameters,
remappings) for each arm."""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml
from hitl_bringup.graph import GraphError, build_graph, build_record_graph
from hitl_bringup.runner import node_command, params_document, parse_assignments, write_params_file

from hitl_bringup import graph

LAUNCH = Path(__file__).resolve().parents[1] / "launch"
ARMS = ("franka", "widowx", "yumi")


def names(specs):
    return [s.name for s in specs]


def test_sim_graph_nodes_and_parameters():
    specs = build_graph(arm="franka", sim="true", task="lift", policy="diffusion", checkpoint="c.pt",
                        threshold="0.3", record="true", namespace="robot_1")
    assert names(specs) == ["sim_arm", "policy", "uncertainty", "arbiter", "sim_operator", "recorder"]
    by = {s.name: s for s in specs}
    assert all(s.namespace == "/robot_1" for s in specs)
    assert by["policy"].parameters["checkpoint"] == str(Path("c.pt").resolve())
    assert by["uncertainty"].parameters["threshold"] == 0.3
    assert by["uncertainty"].parameters["estimator"] == "denoising_vector"
    assert isinstance(by["uncertainty"].parameters["estimator_params"], str)
    assert by["sim_arm"].parameters["robot_id"] == "robot_1"
    assert by["arbiter"].parameters["frame_id"] == "fr3_link0"  # from config/arms/franka.yaml


def test_real_graph_uses_adapter_and_arm_default_device():
    specs = build_graph(arm="widowx", sim=False, checkpoint="c.pt", policy="ebm", record=False)
    assert names(specs) == ["arm_adapter", "observation_bridge", "policy", "uncertainty", "arbiter", "joy",
                            "joy_teleop"]
    by = {s.name: s for s in specs}
    assert by["arm_adapter"].parameters["arm"] == "widowx"
    assert by["uncertainty"].parameters["estimator"] == "jeffreys"
    assert by["joy"].package == "joy" and by["joy"].module == ""
    with pytest.raises(GraphError, match="no Python module"):
        node_command(by["joy"], "p.yaml")
    specs = build_graph(arm="franka", sim="false", checkpoint="c.pt", teleop_device="keyboard", record=False)
    assert names(specs)[-1] == "keyboard"


# what each arm's real driver publishes its joint states on, and the bridge's finger joints
REAL_INPUTS = {
    "franka": ("/joint_states", "/franka_robot_state_broadcaster/current_pose",
               ["fr3_finger_joint1 fr3_finger_joint2"]),
    "widowx": ("/wx250s/joint_states", "", ["left_finger right_finger"]),
    "yumi": ("/joint_states", "", ["gripper_l_joint", "gripper_r_joint"]),
}


@pytest.mark.parametrize("arm", ARMS)
def test_real_graph_has_the_observation_bridge_with_arm_and_task_parameters(arm):
    """sim:=false: nothing else publishes `observation`; its inputs come from the arm and task YAMLs."""
    specs = build_graph(arm=arm, sim=False, task="lift", checkpoint="c.pt", namespace="robot_2", variant="real")
    by = {s.name: s for s in specs}
    assert "sim_arm" not in by and names(specs)[:2] == ["arm_adapter", "observation_bridge"]
    spec = by["observation_bridge"]
    assert (spec.package, spec.executable, spec.module, spec.namespace) == (
        "hitl_teleop", "observation_bridge_node", "hitl_teleop.nodes.observation_bridge_node", "/robot_2")
    p = spec.parameters
    assert (p["arm"], p["task"], p["robot_id"], p["variant"]) == (arm, "lift", "robot_2", "real")
    assert (p["joint_states_topic"], p["ee_pose_topic"], p["finger_joints"]) == REAL_INPUTS[arm]
    assert len(p["ee_offset_rpy"]) == 3 and len(p["ee_offset_xyz"]) == 3
    # the arbiter inverts the same TCP offset for policy yaw commands; in sim the frames coincide
    arbiter = by["arbiter"].parameters
    assert (arbiter["ee_offset_xyz"], arbiter["ee_offset_rpy"]) == (p["ee_offset_xyz"], p["ee_offset_rpy"])
    assert p["ee_offset_rpy"] != [0.0, 0.0, 0.0]
    sim_arbiter = {s.name: s for s in build_graph(arm=arm, sim=True, checkpoint="c.pt")}["arbiter"].parameters
    assert "ee_offset_rpy" not in sim_arbiter and "ee_offset_xyz" not in sim_arbiter
    cube = {"topic": "/perception/object_pose", "type": "cube", "yaw_period": pytest.approx(1.5708, abs=1e-4)}
    assert p["objects"] == {"obj": cube}
    if arm == "widowx":  # the adapter reads the same joint states
        assert by["arm_adapter"].parameters["joint_states_topic"] == p["joint_states_topic"]
    by = {s.name: s for s in build_graph(arm=arm, sim=False, task="threading", checkpoint="c.pt")}
    assert set(by["observation_bridge"].parameters["objects"]) == {"rod", "ring"}
    assert by["observation_bridge"].parameters["constants"] == {"hole_r": [0.014]}
    assert "observation_bridge" not in names(build_graph(arm=arm, sim=True, checkpoint="c.pt"))


@pytest.mark.parametrize("arm", ARMS)
def test_real_graph_bridge_parameters_build_the_bridge(arm):
    bridge = pytest.importorskip("hitl_teleop.observation_bridge")
    sim = pytest.importorskip("hitl_sim")
    from hitl_sim.mj.layout import mj_obs_names  # the MuJoCo envs' names (test_observation_bridge_mj.py)

    for task in ("lift", "cube_stack", "cup_stack", "threading", "nav"):
        p = dict({s.name: s for s in build_graph(arm=arm, sim=False, task=task, checkpoint="c.pt")}[
            "observation_bridge"].parameters)
        p.pop("robot_id"), p.pop("variant")
        b = bridge.ObservationBridge(bridge.config_from_params(p))
        if task in ("threading", "nav"):  # no MuJoCo arm task: the kinematic layout (the task YAML says so)
            assert b.names == sim.make_env(task, arm, backend="kinematic").obs_names  # see test_observation_bridge
        else:
            assert b.names == mj_obs_names(task, b.n_arms)


@pytest.mark.parametrize("record", [True, False])
def test_sim_arm_waits_for_the_recorder_only_when_recording(record):
    by = {s.name: s for s in build_graph(checkpoint="c.pt", record=record)}
    assert by["sim_arm"].parameters["wait_for_recorder"] is record
    assert ("recorder" in by) is record


def test_threshold_sources_and_overrides():
    task_thr = yaml.safe_load((graph.config_dir() / "tasks" / "lift.yaml").read_text())["threshold"]
    by = {s.name: s for s in build_graph(checkpoint="c.pt")}
    assert by["uncertainty"].parameters["threshold"] == task_thr
    by = {s.name: s for s in build_graph(checkpoint="c.pt", threshold_file="cal.json")}
    assert by["uncertainty"].parameters["threshold"] == -1.0
    assert by["uncertainty"].parameters["threshold_file"].endswith("cal.json")
    by = {s.name: s for s in build_graph(checkpoint="c.pt", **{"arbiter.release_ticks": 7, "episodes": "10"})}
    assert by["arbiter"].parameters["release_ticks"] == 7 and by["sim_arm"].parameters["episodes"] == 10


@pytest.mark.parametrize("bad, match", [
    ({"arm": "ur5"}, "unknown arm"), ({"task": "fly"}, "unknown task"), ({"policy": "gpt"}, "unknown policy"),
    ({"sim": "maybe"}, "boolean"), ({"threshold": "high"}, "number"), ({"checkpoint": ""}, "checkpoint"),
    ({"colour": "red"}, "unknown argument"), ({"nobody.x": 1}, "no node named"),
    ({"teleop_device": "wand"}, "teleop_device"), ({"namespace": "9 bad"}, "namespace"),
    ({"device": "joy"}, "torch device .*teleop_device:=joy"), ({"device": "gpu"}, "torch device"),
])
def test_bad_arguments_fail_with_one_line(bad, match):
    args = {"checkpoint": "c.pt", **bad}
    with pytest.raises(GraphError, match=match) as err:
        build_graph(**args)
    assert "\n" not in str(err.value)


def test_record_graph_is_the_recorder_alone():
    specs = build_record_graph(namespace="robot_0", bag="runs/x")
    assert names(specs) == ["recorder"] and specs[0].parameters["output"] == str(Path("runs/x").resolve())


def test_runner_command_line_and_params_file(tmp_path):
    spec = {s.name: s for s in build_graph(checkpoint="c.pt", namespace="robot_0")}["policy"]
    spec.remappings = [("observation", "obs_filtered")]
    path = write_params_file(spec, tmp_path)
    cmd = node_command(spec, path, python="py")
    assert cmd == ["py", "-m", "hitl_core.ros.boot", "hitl_policy.nodes.policy_node", "--ros-args",
                   "-r", "__node:=policy", "-r", "__ns:=/robot_0", "--params-file", str(path),
                   "-r", "observation:=obs_filtered"]
    assert yaml.safe_load(path.read_text()) == params_document(spec)
    assert parse_assignments(["arm:=yumi", "bag:=a:=b"]) == {"arm": "yumi", "bag": "a:=b"}
    with pytest.raises(GraphError):
        parse_assignments(["arm=yumi"])


# ------------------------------------------------------------------------ launch file == runner
class _Recorder:
    """Stand-ins for the launch API used only to capture what the launch file builds."""

    def __init__(self):
        self.nodes: list[dict] = []
        self.declared: dict[str, str] = {}
        self.descriptions: dict[str, str] = {}


def _load_launch(name: str, rec: _Recorder, values: dict[str, str]):
    """Import a launch file with test doubles for launch/launch_ros injected into sys.modules."""

    class LaunchDescription(list):
        pass

    class DeclareLaunchArgument:
        def __init__(self, name, default_value="", description=""):
            rec.declared[name] = default_value
            rec.descriptions[name] = description

    class OpaqueFunction:
        def __init__(self, function):
            self.function = function

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]

    class Node:
        def __init__(self, **kwargs):
            rec.nodes.append(kwargs)

    class Context:
        def __init__(self, configurations):
            self.launch_configurations = configurations

    mods = {
        "launch": types.ModuleType("launch"), "launch.actions": types.ModuleType("launch.actions"),
        "launch.events": types.ModuleType("launch.events"),
        "launch.events.process": types.ModuleType("launch.events.process"),
        "launch.substitutions": types.ModuleType("launch.substitutions"),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.ModuleType("launch_ros.actions"),
    }
    mods["launch"].LaunchDescription = LaunchDescription
    mods["launch"].LaunchContext = Context
    mods["launch.actions"].Shutdown = object
    mods["launch.events.process"].ProcessExited = object
    mods["launch.actions"].DeclareLaunchArgument = DeclareLaunchArgument
    mods["launch.actions"].OpaqueFunction = OpaqueFunction
    mods["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    mods["launch_ros.actions"].Node = Node
    mods["hitl_bringup.launch_support"] = None  # re-imported below with these doubles
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    del sys.modules["hitl_bringup.launch_support"]
    try:
        spec = importlib.util.spec_from_file_location(f"_launch_{name}", LAUNCH / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        desc = module.generate_launch_description()
        context = Context({**rec.declared, **values})
        for action in desc:
            if isinstance(action, OpaqueFunction):
                action.function(context)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return rec


def _runner_view(specs, tmp_path):
    """What the runner starts: (executable module, name, namespace, params, remaps) per node."""
    out = []
    for s in specs:
        cmd = node_command(s, write_params_file(s, tmp_path))
        args = cmd[cmd.index("--ros-args") + 1:]
        remaps = [args[i + 1] for i, a in enumerate(args) if a == "-r"]
        node = next(r.split(":=", 1)[1] for r in remaps if r.startswith("__node:="))
        ns = next((r.split(":=", 1)[1] for r in remaps if r.startswith("__ns:=")), None)
        params_file = Path(args[args.index("--params-file") + 1])
        params = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        user = [tuple(r.split(":=", 1)) for r in remaps if not r.startswith("__")]
        out.append((cmd[3], node, ns, params, user))
    return out


def _launch_view(rec, specs):
    modules = {(s.package, s.executable): s.module for s in specs}
    return [(modules[(n["package"], n["executable"])], n["name"], n["namespace"], n["parameters"][0],
             [tuple(r) for r in n["remappings"]]) for n in rec.nodes]


@pytest.mark.parametrize("arm", ARMS)
@pytest.mark.parametrize("sim", ["true", "false"])
def test_deploy_launch_graph_equals_runner_graph(arm, sim, tmp_path):
    values = {"arm": arm, "sim": sim, "checkpoint": "ckpt.pt", "threshold": "0.25", "namespace": "robot_3",
              "policy": "diffusion", "task": "lift", "record": "true", "device": "cpu"}
    rec = _load_launch("deploy.launch.py", _Recorder(), values)
    required = {"arm", "sim", "task", "policy", "checkpoint", "device", "threshold", "record", "namespace"}
    assert set(rec.declared) >= required
    specs = build_graph(**parse_assignments([f"{k}:={v}" for k, v in values.items()]))
    specs = [s for s in specs if s.module]  # the runner cannot start the joy driver (no wheel)
    launch_nodes = [n for n in rec.nodes if n["package"] != "joy"]
    rec.nodes = launch_nodes
    assert _launch_view(rec, specs) == _runner_view(specs, tmp_path)
    assert len(specs) >= 5


def test_record_launch_equals_runner(tmp_path):
    values = {"namespace": "robot_0", "bag": "runs/b"}
    rec = _load_launch("record.launch.py", _Recorder(), values)
    specs = build_record_graph(**values)
    assert _launch_view(rec, specs) == _runner_view(specs, tmp_path)


def test_launch_files_take_their_nodes_from_the_graph_description():
    """No node or parameter is written into a launch file itself: they come from build_graph via
    launch_support's one Node call."""
    support = Path(graph.__file__).with_name("launch_support.py")
    tree = ast.parse(support.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"]
    assert len(calls) == 1
    kw = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert kw["package"] == "s.package" and kw["parameters"] == "[s.parameters]"
    for name in ("deploy.launch.py", "record.launch.py"):
        tree = ast.parse((LAUNCH / name).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"]
        imports = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert {"hitl_bringup.graph", "hitl_bringup.launch_support"} <= imports


def test_launch_arguments_are_described_typed_and_checked():
    rec = _load_launch("deploy.launch.py", _Recorder(), {"checkpoint": "c.pt", "arbiter.release_ticks": "5",
                                                           "sim_arm.max_episode_steps": "20"})
    assert set(rec.declared) == set(graph.default_arguments())
    assert all(rec.descriptions[n].strip() for n in rec.declared), \
        [n for n in rec.declared if not rec.descriptions[n].strip()]
    by = {n["name"]: n["parameters"][0] for n in rec.nodes}
    assert by["arbiter"]["release_ticks"] == 5 and by["sim_arm"]["max_episode_steps"] == 20
    with pytest.raises(GraphError, match=r"unknown launch argument\(s\) \['tresh'\]; valid: \[") as err:
        _load_launch("deploy.launch.py", _Recorder(), {"checkpoint": "c.pt", "tresh": "0.3"})
    assert all(repr(name) in str(err.value) for name in graph.default_arguments())  # the whole valid list
    rec = _load_launch("record.launch.py", _Recorder(), {"namespace": "robot_0"})
    assert sorted(rec.declared) == sorted(graph.RECORD_ARGUMENTS)
    with pytest.raises(GraphError, match="unknown launch argument"):
        _load_launch("record.launch.py", _Recorder(), {"checkpoint": "c.pt"})


def test_node_overrides_take_the_type_of_the_parameter_they_replace():
    by = {s.name: s.parameters for s in build_graph(checkpoint="c.pt", **{
        "arbiter.release_ticks": "5", "arbiter.min_intervention_s": "1", "sim_arm.wait_for_recorder": "false",
        "recorder.fsync": "false", "recorder.flush_period_s": "0.25", "arbiter.gating": "human"})}
    assert by["arbiter"]["release_ticks"] == 5 and by["arbiter"]["min_intervention_s"] == 1.0
    assert by["sim_arm"]["wait_for_recorder"] is False and by["recorder"]["fsync"] is False
    assert by["recorder"]["flush_period_s"] == 0.25 and by["arbiter"]["gating"] == "human"
    with pytest.raises(GraphError, match="not an integer"):
        build_graph(checkpoint="c.pt", **{"sim_arm.episodes": "two"})


def test_every_task_yaml_is_a_simulator_task_and_every_arm_a_profile():
    sim = pytest.importorskip("hitl_sim")
    assert set(graph.available("tasks")) <= set(sim.TASK_NAMES)
    assert set(graph.available("arms")) == set(sim.ARM_NAMES)
    for arm in graph.available("arms"):
        cfg = yaml.safe_load((graph.config_dir() / "arms" / f"{arm}.yaml").read_text())
        assert cfg["base_frame"] == sim.load_arm_profile(arm).base_frame


@pytest.mark.parametrize("task, layout", [("lift", "mujoco"), ("threading", "kinematic")])
def test_real_arbiter_commands_yaw_in_the_layout_the_bridge_builds(task, layout):
    by = {s.name: s for s in build_graph(arm="franka", sim=False, task=task, checkpoint="c.pt")}
    assert by["arbiter"].parameters["ee_layout"] == layout
    assert by["observation_bridge"].parameters.get("simulator", "mujoco") == layout
    sim = {s.name: s for s in build_graph(arm="franka", sim=True, task=task, checkpoint="c.pt")}
    assert "ee_layout" not in sim["arbiter"].parameters  # the simulator's own frames: no conversion
