"""The device and arm-adapter nodes as processes: --help, Joy -> teleop stream, missing hardware, adapters.

Each test runs its node under a private ROS domain and namespace so parallel test runs do not mix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    from geometry_msgs.msg import Pose
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile
    from sensor_msgs.msg import JointState, Joy
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

    from hitl_msgs.msg import ArmCommand, TeleopCommand

pytestmark = pytest.mark.ros
NS = "/h3test"


def start(module: str, params: dict[str, object] | None = None, ns: str = NS) -> subprocess.Popen:
    args = [sys.executable, "-m", f"hitl_teleop.nodes.{module}", "--ros-args", "-r", f"__ns:={ns}"]
    for k, v in (params or {}).items():
        args += ["-p", f"{k}:={json.dumps(v) if not isinstance(v, str) else v}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # ROS_DOMAIN_ID: the ros_graph/ros_domain fixture's
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


@pytest.mark.parametrize(
    "module", ["spacemouse_node", "joy_teleop_node", "trakstar_node", "keyboard_node", "arm_adapter_node"]
)
def test_help_exits_without_ros(module, capsys):
    import importlib

    mod = importlib.import_module(f"hitl_teleop.nodes.{module}")
    assert mod.main(["--help"]) == 0
    assert "parameters:" in capsys.readouterr().out


def test_joy_node_stream(ros_node):
    got: list[TeleopCommand] = []
    sub = ros_node.create_subscription(TeleopCommand, f"{NS}/teleop", got.append, 50)
    pub = ros_node.create_publisher(Joy, f"{NS}/joy", 10)
    proc = start("joy_teleop_node", {"arm": "franka", "operator_id": "op_7"})
    try:
        state = {"buttons": [0] * 17, "axes": [0.0] * 6}

        def send():
            m = Joy()
            m.header.stamp = ros_node.get_clock().now().to_msg()
            m.axes, m.buttons = state["axes"], state["buttons"]
            pub.publish(m)

        assert ros_node.spin_until(lambda: len(got) > 2, 20.0, send), "joy_teleop_node published nothing"
        got.clear()
        state["buttons"] = [0] * 17
        state["buttons"][8] = 1  # L2 deadman
        state["buttons"][3] = 1  # start: pause edge, held down over many messages
        state["axes"] = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        # messages already in flight may still carry the old state: wait for enough new ones
        assert ros_node.spin_until(lambda: sum(m.engaged for m in got) >= 6, 10.0, send, period=0.05)
        assert all(m.delta.linear.x > 0 for m in got if m.engaged)
        assert sum(m.pause for m in got) == 1
        assert (
            got[-1].device == "joy"
            and got[-1].operator_id == "op_7"
            and got[-1].header.frame_id == "fr3_link0"
        )
        got.clear()
        state["buttons"] = [0] * 17  # release: motion stops at once
        assert ros_node.spin_until(lambda: sum(not m.engaged for m in got) >= 3, 10.0, send)
        assert all(m.delta.linear.x == 0.0 for m in got if not m.engaged) and not got[-1].engaged
    finally:
        rc, err = stop(proc)
        ros_node.destroy_subscription(sub)
        ros_node.destroy_publisher(pub)
    assert rc == 0, err


def test_spacemouse_node_without_device_reports_and_keeps_retrying(ros_node):
    got: list[TeleopCommand] = []
    sub = ros_node.create_subscription(TeleopCommand, f"{NS}/teleop", got.append, 10)
    proc = start("spacemouse_node", {"retry_s": 0.5})
    try:
        ros_node.spin_until(lambda: False, 4.0)
        assert proc.poll() is None, "the node must keep running (and retrying) without a device"
        assert got == []
    finally:
        rc, err = stop(proc)
        ros_node.destroy_subscription(sub)
    assert rc == 0, err
    lines = [ln for ln in err.splitlines() if "no SpaceMouse" in ln]
    assert len(lines) == 1, err  # one clear line, not one per retry


def test_trakstar_node_clutched_motion(ros_node):
    got: list[TeleopCommand] = []
    sub = ros_node.create_subscription(TeleopCommand, f"{NS}/teleop", got.append, 50)
    from geometry_msgs.msg import PoseStamped

    pose_pub = ros_node.create_publisher(PoseStamped, f"{NS}/trakstar/pose_0", 10)
    btn_pub = ros_node.create_publisher(Joy, f"{NS}/trakstar/buttons", 10)
    proc = start("trakstar_node", {"arm": "widowx"})
    x = {"v": 0.0, "clutch": 0}

    def send():
        b = Joy()
        b.buttons = [x["clutch"], 0]
        btn_pub.publish(b)
        m = PoseStamped()
        m.header.stamp = ros_node.get_clock().now().to_msg()
        m.pose.position.x = x["v"]
        m.pose.orientation.w = 1.0
        pose_pub.publish(m)
        x["v"] += 0.001 if x["clutch"] else 0.01

    try:
        assert ros_node.spin_until(lambda: len(got) > 2, 20.0, send)
        assert not any(m.engaged or m.delta.linear.x for m in got)
        got.clear()
        x["clutch"] = 1
        assert ros_node.spin_until(lambda: sum(m.engaged for m in got) > 5, 10.0, send)
        moved = sum(m.delta.linear.x for m in got if m.engaged)
        assert 0.0 < moved < 0.001 * len(got) + 1e-9  # hand steps of 1 mm, not the 10 mm before the press
        assert got[-1].header.frame_id == "wx250s/base_link"
    finally:
        rc, err = stop(proc)
        ros_node.destroy_subscription(sub)
    assert rc == 0, err


def _arm_command(frame, positions, quats, hold=False):
    m = ArmCommand()
    m.header.frame_id = frame
    m.hold = hold
    for p, q in zip(positions, quats):
        t = Pose()
        t.position.x, t.position.y, t.position.z = (float(v) for v in p)
        t.orientation.x, t.orientation.y, t.orientation.z, t.orientation.w = (float(v) for v in q)
        m.targets.append(t)
    m.gripper = [0.0] * len(positions)
    return m


def assert_goes_silent(ros_node, status: list[str], send, count) -> None:
    """Once the adapter reports the hold, nothing more reaches the arm (``count``: messages so far)."""
    assert ros_node.spin_until(lambda: "arbiter holds" in status, 5.0, send, period=0.1)
    ros_node.spin_until(lambda: False, 0.3, send, period=0.1)  # outputs from before the hold, still in flight
    n = count()
    ros_node.spin_until(lambda: False, 1.0, send, period=0.1)
    assert count() == n


def test_yumi_adapter_node_publishes_trajectories_and_goes_silent_on_hold(ros_node):
    from hitl_teleop.adapters.kinematics import matrix_to_pose
    from hitl_teleop.adapters.yumi import yumi_chain

    home = {
        "l": [0.74, -0.55, 0.05, 0.79, 0.47, 0.28, -0.09],
        "r": [-0.75, -0.55, -0.05, 0.79, -0.47, 0.28, 0.1],
    }
    chains = {s: yumi_chain(s) for s in "lr"}
    poses = [matrix_to_pose(chains[s].fk(np.array(home[s]))) for s in "lr"]
    trajs: dict[str, list] = {"l": [], "r": []}
    status: list[str] = []
    qos = QoSProfile(depth=10, durability=QoSDurabilityPolicy.VOLATILE)
    subs = [
        ros_node.create_subscription(
            JointTrajectory, "/left_arm_controller/joint_trajectory", trajs["l"].append, qos
        ),
        ros_node.create_subscription(
            JointTrajectory, "/right_arm_controller/joint_trajectory", trajs["r"].append, qos
        ),
        ros_node.create_subscription(String, f"{NS}/adapter_status", lambda m: status.append(m.data), 10),
    ]
    js_pub = ros_node.create_publisher(JointState, "/joint_states", 10)
    cmd_pub = ros_node.create_publisher(ArmCommand, f"{NS}/arm_command", 10)
    proc = start("arm_adapter_node", {"arm": "yumi"})
    hold = {"v": False}

    def send():
        js = JointState()
        js.name = [*chains["l"].joint_names, *chains["r"].joint_names]
        js.position = [*home["l"], *home["r"]]
        js_pub.publish(js)
        cmd_pub.publish(
            _arm_command("yumi_base_link", [p for p, _ in poses], [q for _, q in poses], hold["v"])
        )

    try:
        assert ros_node.spin_until(lambda: trajs["l"] and trajs["r"], 20.0, send, period=0.1), proc.stderr
        t = trajs["l"][-1]
        assert list(t.joint_names) == list(chains["l"].joint_names)
        np.testing.assert_allclose(t.points[0].positions, home["l"], atol=0.02)
        assert list(trajs["r"][-1].joint_names) == list(chains["r"].joint_names)
        hold["v"] = True
        assert_goes_silent(ros_node, status, send, lambda: len(trajs["l"]))
    finally:
        rc, err = stop(proc)
        for s in subs:
            ros_node.destroy_subscription(s)
    assert rc == 0, err


def test_widowx_adapter_without_interbotix_is_one_clear_line(ros_domain):
    try:
        import interbotix_xs_msgs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("interbotix_xs_msgs is installed here")
    proc = start("arm_adapter_node", {"arm": "widowx"})
    rc, err = stop(proc) if proc.wait(timeout=30) is None else (proc.returncode, proc.stderr.read())
    assert rc == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "interbotix_xs_msgs" in lines[0], err


def test_widowx_adapter_dry_run(ros_node):
    from hitl_teleop.adapters.kinematics import matrix_to_pose
    from hitl_teleop.adapters.widowx import WIDOWX_JOINTS, widowx_chain

    q0 = [0.0, -0.3, 0.4, 0.0, 0.9, 0.0]
    p, q = matrix_to_pose(widowx_chain().fk(np.array(q0)))
    lines: list[dict] = []
    sub = ros_node.create_subscription(
        String, f"{NS}/adapter_status/dry_run", lambda m: lines.append(json.loads(m.data)), 10
    )
    js_pub = ros_node.create_publisher(JointState, "/wx250s/joint_states", 10)
    cmd_pub = ros_node.create_publisher(ArmCommand, f"{NS}/arm_command", 10)
    proc = start("arm_adapter_node", {"arm": "widowx", "dry_run": True})

    def send():
        js = JointState()
        js.name, js.position = list(WIDOWX_JOINTS), q0
        js_pub.publish(js)
        cmd_pub.publish(_arm_command("wx250s/base_link", [p], [q]))

    try:
        assert ros_node.spin_until(lambda: any(d["type"] == "JointGroupCommandOut" for d in lines), 20.0, send,
                               period=0.1)
        d = next(d for d in lines if d["type"] == "JointGroupCommandOut")
        assert d["topic"] == "/wx250s/commands/joint_group" and d["name"] == "arm"
        np.testing.assert_allclose(d["cmd"], q0, atol=0.02)
    finally:
        rc, err = stop(proc)
        ros_node.destroy_subscription(sub)
    assert rc == 0, err


def test_franka_adapter_node_publishes_equilibrium_pose_and_goes_silent_on_hold(ros_node):
    from geometry_msgs.msg import PoseStamped

    p0, q0 = [0.45, 0.0, 0.40], [1.0, 0.0, 0.0, 0.0]  # gripper down
    got: list[PoseStamped] = []
    status: list[str] = []
    subs = [
        ros_node.create_subscription(
            PoseStamped, "/cartesian_impedance_example_controller/equilibrium_pose", got.append, 10
        ),
        ros_node.create_subscription(String, f"{NS}/adapter_status", lambda m: status.append(m.data), 10),
    ]
    cur_pub = ros_node.create_publisher(PoseStamped, "/franka_robot_state_broadcaster/current_pose", 10)
    cmd_pub = ros_node.create_publisher(ArmCommand, f"{NS}/arm_command", 10)
    proc = start("arm_adapter_node", {"arm": "franka"})
    hold = {"v": False}

    def send():
        cur = PoseStamped()
        cur.header.frame_id = "fr3_link0"
        cur.pose.position.x, cur.pose.position.y, cur.pose.position.z = p0
        cur.pose.orientation.x, cur.pose.orientation.w = 1.0, 0.0
        cur_pub.publish(cur)
        cmd_pub.publish(_arm_command("fr3_link0", [[0.46, 0.0, 0.40]], [q0], hold["v"]))

    try:
        assert ros_node.spin_until(lambda: len(got) > 0, 20.0, send, period=0.1)
        m = got[-1]
        assert m.header.frame_id == "fr3_link0" and m.header.stamp.sec > 0
        assert (m.pose.position.x, m.pose.position.z, m.pose.orientation.x) == (0.46, 0.40, 1.0)
        hold["v"] = True
        assert_goes_silent(ros_node, status, send, lambda: len(got))
    finally:
        rc, err = stop(proc)
        for s in subs:
            ros_node.destroy_subscription(s)
    assert rc == 0, err
