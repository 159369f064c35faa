"""adapters/messages.py against the real robot-side interface definitions.

interbotix_xs_msgs (WidowX) and franka_msgs (Franka gripper actions) exist only on the robot computers. Copies of
their upstream definitions live in test/fixtures/robot_interfaces (COLCON_IGNOREd: the workspace build skips them);
the fixture below builds them with colcon, cached under build/robot_interfaces_fixture/<hash of the fixture files>,
and a subprocess that sees the fresh install checks, for every arm adapter, that the ROS objects made from real
adapter outputs are the real types, survive serialize -> deserialize, and carry the right names, order and units.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIXTURES = HERE / "fixtures" / "robot_interfaces"
PACKAGES = ("interbotix_xs_msgs", "franka_msgs")
CACHE = ROOT / "build" / "robot_interfaces_fixture"
PY_SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
# RIHS01 type hashes from the code Interbotix/interbotix_ros_core's ROS 2 build generates for these messages
# (rosidl_generator_c idl__description.c): equal hashes mean field names, types and order match upstream.
UPSTREAM_HASHES = {
    "interbotix_xs_msgs/msg/JointGroupCommand":
        "RIHS01_c43821d89bd439eeca1db1f2b48778277e465bde9daad1b0839077bcfbdb3e3b",
    "interbotix_xs_msgs/msg/JointSingleCommand":
        "RIHS01_ed9575e22584aa1f25c9e13a546641d38066caa37454ced810f165d66d842e4d",
}


def fixture_hash() -> str:
    h = hashlib.sha256(sys.version.encode())
    for p in sorted(FIXTURES.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(FIXTURES)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_fixture_packages(tmp: Path) -> Path:
    """colcon build of the fixture packages into CACHE/<hash>/install (as scripts/setup.sh builds hitl_msgs)."""
    prefix = Path(sys.prefix)
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix), CMAKE_PREFIX_PATH=str(prefix))
    src = tmp / "src"
    for pkg in PACKAGES:
        shutil.copytree(FIXTURES / pkg, src / pkg)
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import fix_ros_wheels  # the wheels' baked cmake paths, as setup.sh step 3 (idempotent)

        fix_ros_wheels.rewrite(prefix)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    dest = CACHE / fixture_hash()
    shutil.rmtree(dest, ignore_errors=True)
    cmd = [
        shutil.which("colcon"), "--log-base", str(tmp / "log"), "build",
        "--base-paths", str(src), "--build-base", str(tmp / "build"), "--install-base", str(dest / "install"),
        "--event-handlers", "console_cohesion-", "summary+",
        "--cmake-args", "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF", "-DHITL_FIXTURE_PYTHON_ONLY=ON",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        logs = "".join(p.read_text(errors="replace")[-3000:] for p in (tmp / "log").rglob("stderr.log"))
        pytest.fail(f"colcon build of the fixture packages failed:\n{proc.stdout[-3000:]}\n{proc.stderr}\n{logs}")
    (dest / "ok").write_text(proc.stdout)
    return dest / "install"


@pytest.fixture(scope="module")
def robot_install(tmp_path_factory) -> Path:
    pytest.importorskip("rclpy", reason="rclpy (ROS) not importable")
    if shutil.which("cmake") is None or shutil.which("colcon") is None:
        pytest.skip("cmake / colcon not installed: cannot build the ROS fixture packages")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "COLCON_IGNORE").touch()  # never crawled as packages by a workspace colcon run
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (parallel test runs)
        dest = CACHE / fixture_hash()
        if (dest / "ok").is_file():
            return dest / "install"
        for old in CACHE.iterdir():
            if old.is_dir():  # builds of older fixture versions
                shutil.rmtree(old, ignore_errors=True)
        return build_fixture_packages(tmp_path_factory.mktemp("robot_interfaces"))


def run_child(install: Path) -> dict:
    """Run CHILD with the fixture install on the paths; returns its JSON report."""
    env = dict(os.environ)

    def prepend(var: str, paths: list[Path]) -> None:
        env[var] = os.pathsep.join([*map(str, paths), *filter(None, [env.get(var)])])

    prefixes = [install / pkg for pkg in PACKAGES]
    prepend("AMENT_PREFIX_PATH", prefixes)
    prepend("LD_LIBRARY_PATH", [p / "lib" for p in prefixes])
    prepend("PYTHONPATH", [*(p / PY_SITE for p in prefixes), HERE, ROOT / "src" / "hitl_teleop"])
    env["HITL_FIXTURE_INSTALL"] = str(install)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


CHILD = r'''
import importlib.metadata, json, os
from pathlib import Path

import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.serialization import deserialize_message, serialize_message
from scipy.spatial.transform import Rotation

from adapter_helpers import command
from hitl_teleop.adapters import messages as am
from hitl_teleop.adapters.base import GripperActionOut
from hitl_teleop.adapters.factory import build_adapter
from hitl_teleop.adapters.widowx import WIDOWX_JOINTS

install = Path(os.environ["HITL_FIXTURE_INSTALL"])
rclpy.init()
node = rclpy.create_node("real_types_check")
NOW = (12, 345)


def roundtrip(msg):
    data = serialize_message(msg)
    return deserialize_message(data, type(msg)) == msg, len(data)


def describe(o, msg, cls):
    ok, nbytes = roundtrip(msg)
    node.create_publisher(cls, o.topic, 1)  # validates the topic name and the type support
    return {
        "out": type(o).__name__, "topic": o.topic, "type": f"{type(msg).__module__}.{type(msg).__name__}",
        "is_message_type": type(msg) is cls, "roundtrip": ok, "bytes": nbytes,
        "fields": msg.get_fields_and_field_types(),
    }


def type_hash(pkg, name):
    d = json.loads((install / pkg / "share" / pkg / "msg" / f"{name}.json").read_text())
    return {h["type_name"]: h["hash_string"] for h in d["type_hashes"]}[f"{pkg}/msg/{name}"]


report = {}

# WidowX: JointGroupCommand (arm, radians, xs_sdk order) + JointSingleCommand (gripper, pwm effort)
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand

a = build_adapter("widowx")
q0 = [0.0, -0.3, 0.4, 0.0, 0.9, 0.0]
a.set_joint_state(["gripper", *reversed(WIDOWX_JOINTS), "left_finger"], [0.02, *reversed(q0), 0.01])
T = a.chain.fk(np.array(q0))
rows = []
for g in (0.0, 1.0):
    out = a.step(command("wx250s/base_link", [T[:3, 3] + np.array([0.005, -0.005, 0.0])], [T[:3, :3]], gripper=[g]))
    assert not out.held, out.reason
    for o in out.messages:
        cls = am.message_type(o)
        msg = am.to_ros(o, NOW)
        row = describe(o, msg, cls)
        row.update(isinstance=isinstance(msg, (JointGroupCommand, JointSingleCommand)), name=msg.name,
                   cmd=[float(x) for x in np.atleast_1d(msg.cmd)], adapter_cmd=list(np.atleast_1d(o.cmd)))
        rows.append(row)
report["widowx"] = {
    "rows": rows, "joints": list(WIDOWX_JOINTS),
    "hashes": {f"interbotix_xs_msgs/msg/{n}": type_hash("interbotix_xs_msgs", n)
               for n in ("JointGroupCommand", "JointSingleCommand")},
}

# Franka: equilibrium PoseStamped + franka_gripper Move / Grasp goals
from franka_msgs.action import Grasp, Move

a = build_adapter("franka")
p0, r_down = np.array([0.45, 0.0, 0.40]), Rotation.from_euler("xyz", [np.pi, 0, 0])
a.set_current_pose(p0, r_down.as_quat())
rows = []
for g in (0.0, 1.0):
    out = a.step(command("fr3_link0", [p0], [r_down], gripper=[g]))
    assert not out.held, out.reason
    for o in out.messages:
        if isinstance(o, GripperActionOut):
            action, goal = am.gripper_goal(o)
            ok, nbytes = roundtrip(goal)
            request = action.Impl.SendGoalService.Request(goal=goal)  # what goes on the wire
            request.goal_id.uuid = list(range(16))
            wire_ok, _ = roundtrip(request)
            ActionClient(node, action, o.action)  # validates the action name and the action type support
            rows.append({
                "out": "GripperActionOut", "action": o.action, "kind": o.kind,
                "action_type": f"{action.__module__}.{action.__name__}",
                "isinstance": isinstance(goal, (Grasp.Goal, Move.Goal)), "goal_type": type(goal).__name__,
                "goal_matches_action": type(goal) is action.Goal, "roundtrip": ok, "wire_roundtrip": wire_ok,
                "bytes": nbytes, "fields": goal.get_fields_and_field_types(),
                "result_fields": action.Result.get_fields_and_field_types(),
                "feedback_fields": action.Feedback.get_fields_and_field_types(),
                "values": {k: getattr(goal, k) for k in ("width", "speed", "force") if hasattr(goal, k)}
                | ({"epsilon": [goal.epsilon.inner, goal.epsilon.outer]} if hasattr(goal, "epsilon") else {}),
            })
        else:
            msg = am.to_ros(o, NOW)
            row = describe(o, msg, am.message_type(o))
            row.update(frame=msg.header.frame_id, stamp=[msg.header.stamp.sec, msg.header.stamp.nanosec],
                       position=[msg.pose.position.x, msg.pose.position.y, msg.pose.position.z],
                       adapter_position=list(o.position))
            rows.append(row)
report["franka"] = {"rows": rows}

# YuMi: trajectory_msgs / std_msgs come from PyPI wheels; checked the same way when installed
try:
    importlib.metadata.version("ros-trajectory-msgs")
except importlib.metadata.PackageNotFoundError:
    report["yumi"] = None
else:
    from trajectory_msgs.msg import JointTrajectory

    a = build_adapter("yumi")
    home = {"l": [0.74, -0.55, 0.05, 0.79, 0.47, 0.28, -0.09], "r": [-0.75, -0.55, -0.05, 0.79, -0.47, 0.28, 0.1]}
    names, pos = [], []
    for side, arm in zip("lr", a.arms):
        names += list(arm.chain.joint_names)
        pos += home[side]
    a.set_joint_state(names, pos)
    Ts = [arm.chain.fk(arm.measured) for arm in a.arms]
    out = a.step(command("yumi_base_link", [T[:3, 3] + np.array([0.0, 0.0, -0.005]) for T in Ts],
                         [T[:3, :3] for T in Ts], gripper=[0.0, 1.0]))
    assert not out.held, out.reason
    rows = []
    for o in out.messages:
        msg = am.to_ros(o, NOW)
        row = describe(o, msg, am.message_type(o))
        if isinstance(msg, JointTrajectory):
            pt = msg.points[0]
            row.update(joint_names=list(msg.joint_names), positions=list(pt.positions),
                       adapter_positions=list(o.positions), stamp=[msg.header.stamp.sec, msg.header.stamp.nanosec],
                       time_from_start=[pt.time_from_start.sec, pt.time_from_start.nanosec], n_points=len(msg.points))
        else:
            row.update(data=msg.data)
        rows.append(row)
    report["yumi"] = {"rows": rows}

node.destroy_node()
rclpy.shutdown()
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def report(robot_install) -> dict:
    return run_child(robot_install)


@pytest.mark.slow
def test_fixture_definitions_match_upstream_type_hashes(report):
    assert report["widowx"]["hashes"] == UPSTREAM_HASHES


@pytest.mark.slow
def test_widowx_messages_are_real_interbotix_types(report):
    rows = report["widowx"]["rows"]
    assert [(r["out"], r["topic"]) for r in rows] == [
        ("JointGroupCommandOut", "/wx250s/commands/joint_group"),
        ("JointSingleCommandOut", "/wx250s/commands/joint_single"),
        ("JointGroupCommandOut", "/wx250s/commands/joint_group"),
        ("JointSingleCommandOut", "/wx250s/commands/joint_single"),
    ]
    for r in rows:
        assert r["isinstance"] and r["is_message_type"] and r["roundtrip"], r
        assert r["type"].startswith("interbotix_xs_msgs.msg."), r
        # float32 on the wire: the adapter's float64 values arrive rounded to float32
        assert r["cmd"] == pytest.approx(r["adapter_cmd"], abs=1e-6)
    group, single = rows[0], rows[1]
    assert group["fields"] == {"name": "string", "cmd": "sequence<float>"}
    assert single["fields"] == {"name": "string", "cmd": "float"}
    # the "arm" group: one radian command per joint, xs_sdk order (waist .. wrist_rotate)
    assert group["name"] == "arm" and len(group["cmd"]) == len(report["widowx"]["joints"]) == 6
    assert group["cmd"][:5] == pytest.approx([0.0, -0.3, 0.4, 0.0, 0.9], abs=0.1)
    # gripper in pwm (effort) mode: open then close
    assert (single["name"], single["cmd"], rows[3]["cmd"]) == ("gripper", [250.0], [-250.0])


@pytest.mark.slow
def test_franka_goals_are_real_franka_msgs_actions(report):
    rows = report["franka"]["rows"]
    pose = [r for r in rows if r["out"] == "PoseStampedOut"]
    grip = [r for r in rows if r["out"] == "GripperActionOut"]
    assert len(pose) == 2 and all(r["roundtrip"] and r["is_message_type"] for r in pose)
    p = pose[0]
    assert p["type"] == "geometry_msgs.msg._pose_stamped.PoseStamped"
    assert p["topic"] == "/cartesian_impedance_example_controller/equilibrium_pose"
    assert p["frame"] == "fr3_link0" and p["stamp"] == [12, 345] and p["position"] == p["adapter_position"]

    assert [(r["action"], r["kind"], r["action_type"], r["goal_type"]) for r in grip] == [
        ("/franka_gripper/move", "move", "franka_msgs.action._move.Move", "Move_Goal"),
        ("/franka_gripper/grasp", "grasp", "franka_msgs.action._grasp.Grasp", "Grasp_Goal"),
    ]
    for r in grip:
        assert r["isinstance"] and r["goal_matches_action"] and r["roundtrip"] and r["wire_roundtrip"], r
        assert r["result_fields"] == {"success": "boolean", "error": "string"} and r["feedback_fields"] == {}
    move, grasp = grip
    assert move["fields"] == {"width": "double", "speed": "double"}
    assert grasp["fields"] == {
        "width": "double", "epsilon": "franka_msgs/GraspEpsilon", "speed": "double", "force": "double",
    }  # fmt: skip
    # metres, m/s, newtons: open to the full 8 cm, grasp to 0 with 20 N and an 8 cm tolerance either way
    assert move["values"] == {"width": 0.08, "speed": 0.1}
    assert grasp["values"] == {"width": 0.0, "speed": 0.1, "force": 20.0, "epsilon": [0.08, 0.08]}


@pytest.mark.slow
def test_yumi_trajectories_are_real_trajectory_msgs(report):
    if report["yumi"] is None:
        pytest.skip("ros-trajectory-msgs is not installed")
    rows = report["yumi"]["rows"]
    traj = [r for r in rows if r["out"] == "JointTrajectoryOut"]
    grip = [r for r in rows if r["out"] == "Float64Out"]
    assert [r["topic"] for r in traj] == [
        "/left_arm_controller/joint_trajectory",
        "/right_arm_controller/joint_trajectory",
    ]
    assert [(r["topic"], r["data"]) for r in grip] == [("left_gripper/command", 0.05), ("right_gripper/command", 0.0)]
    for r in rows:
        assert r["roundtrip"] and r["is_message_type"], r
    for r, side in zip(traj, "lr"):
        assert r["type"] == "trajectory_msgs.msg._joint_trajectory.JointTrajectory"
        assert r["joint_names"] == [f"yumi_joint_{i}_{side}" for i in (1, 2, 7, 3, 4, 5, 6)]
        assert r["positions"] == r["adapter_positions"] and r["n_points"] == 1
        assert r["stamp"] == [0, 0] and r["time_from_start"] == [0, 100_000_000]  # start on receipt, 0.1 s


def test_widowx_conversion_without_interbotix_is_one_clear_line():
    """This process has no interbotix_xs_msgs: the WidowX conversions name what to install in one line."""
    from hitl_teleop.adapters import messages as am
    from hitl_teleop.adapters.base import JointGroupCommandOut, JointSingleCommandOut

    try:
        import interbotix_xs_msgs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("interbotix_xs_msgs is installed here")
    for o in (JointGroupCommandOut("/wx250s/commands/joint_group", "arm", (0.0,) * 6),
              JointSingleCommandOut("/wx250s/commands/joint_single", "gripper", 250.0)):
        with pytest.raises(am.MissingRobotPackageError) as e:
            am.to_ros(o)
        assert str(e.value) == (
            "interbotix_xs_msgs.msg is not installed: source the Interbotix xs_sdk workspace "
            "(interbotix_ros_core / interbotix_xs_msgs) on the robot"
        )
