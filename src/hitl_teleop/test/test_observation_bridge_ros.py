"""observation_bridge_node over DDS: this process plays the WidowX driver and the perception (JointState +
PoseStamped) and receives the node's Observation; stale inputs stop it; episodes; a bad task fails at start.

The node runs as a subprocess with a parameter file (nested ``objects``, as hitl_run writes it) under a
private ROS domain, so parallel test runs do not mix.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import yaml
from hitl_core.ros.testing import ros_imports

with ros_imports():
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from hitl_msgs.msg import EpisodeEvent, Observation
    from hitl_msgs.srv import StartEpisode

from hitl_core.ros.testing import finish, spawn
from hitl_teleop.observation_bridge import ObservationBridge, config_from_params

pytestmark = pytest.mark.ros
NS = "/obs_bridge_test"
PARAMS = {
    "arm": "widowx",
    "task": "lift",
    "robot_id": "robot_t",
    "rate_hz": 20.0,
    "joint_states_topic": "/wx250s/joint_states",
    "ee_pose_topic": "",
    "finger_joints": ["left_finger right_finger"],
    "objects": {"obj": {"topic": "/perception/object_pose", "type": "nut", "offset_xyz": [0.0, 0.0, -0.04]}},
}
JOINTS = {"waist": 0.2, "shoulder": 0.1, "elbow": 0.3, "forearm_roll": 0.0, "wrist_angle": 1.2,
          "wrist_rotate": 0.1, "left_finger": 0.03, "right_finger": -0.03, "gripper": 0.5}
OBJ = ([0.3, 0.05, 0.04], [0.0, 0.0, math.sin(0.15), math.cos(0.15)])  # tag on top of the nut, yaw 0.3


def start(params: dict, tmp_path) -> subprocess.Popen:
    path = tmp_path / "observation_bridge.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    args = [sys.executable, "-m", "hitl_teleop.nodes.observation_bridge_node", "--ros-args",
            "-r", "__node:=observation_bridge", "-r", f"__ns:={NS}", "--params-file", str(path)]
    return spawn(args)  # on the module's domain (ros_graph sets ROS_DOMAIN_ID)


def test_joint_state_and_object_pose_in_observation_out(ros_node, tmp_path):
    obs: list[Observation] = []
    status: list[str] = []
    events: list[EpisodeEvent] = []
    subs = [
        ros_node.create_subscription(Observation, f"{NS}/observation", obs.append, 50),
        ros_node.create_subscription(String, f"{NS}/observation_status", lambda m: status.append(m.data), 50),
        ros_node.create_subscription(EpisodeEvent, f"{NS}/episode_event", events.append, 50),
    ]
    pub_js = ros_node.create_publisher(JointState, "/wx250s/joint_states", 10)
    pub_obj = ros_node.create_publisher(PoseStamped, "/perception/object_pose", 10)
    send = {"joints": True, "object": True, "nan": False}

    def publish() -> None:
        stamp = ros_node.get_clock().now().to_msg()
        if send["joints"]:
            js = JointState()
            js.header.stamp = stamp
            js.name = list(JOINTS)
            js.position = [math.nan if send["nan"] and n == "elbow" else v for n, v in JOINTS.items()]
            pub_js.publish(js)
        if send["object"]:
            ps = PoseStamped()
            ps.header.stamp, ps.header.frame_id = stamp, "wx250s/base_link"
            ps.pose.position.x, ps.pose.position.y, ps.pose.position.z = OBJ[0]
            o = ps.pose.orientation
            o.x, o.y, o.z, o.w = OBJ[1]
            pub_obj.publish(ps)

    proc = start(PARAMS, tmp_path)
    try:
        # up, and silent while it has no input
        assert ros_node.spin_until(lambda: any("no joint state yet" in s for s in status), 30.0), status
        assert "no pose yet for object 'obj' on /perception/object_pose" in status[-1] and not obs
        # inputs in, observations out at the control rate
        assert ros_node.spin_until(lambda: len(obs) >= 5, 10.0, publish, period=0.02), status[-3:]
        expected = ObservationBridge(config_from_params({k: v for k, v in PARAMS.items()
                                                         if k not in ("robot_id", "rate_hz")}))
        expected.on_joint_state(list(JOINTS), list(JOINTS.values()), 1.0, 1.0)
        expected.on_object_pose("obj", *OBJ, "wx250s/base_link", 1.0, 1.0)
        want = expected.build(1.0)
        m = obs[-1]
        assert list(m.names) == expected.names and m.names[5:8] == ["obj_pos_0", "obj_pos_1", "obj_pos_2"]
        np.testing.assert_allclose(m.data, want.data, atol=1e-12)
        assert m.data[m.names.index("obj_pos_2")] == pytest.approx(0.0)  # tag 4 cm above the base
        assert m.data[m.names.index("obj_yaw")] == pytest.approx(0.3)
        assert list(m.data[m.names.index("obj_is_0"):m.names.index("obj_is_3") + 1]) == [0, 1, 0, 0]  # nut
        assert (m.robot_id, m.task, m.header.frame_id, m.episode) == ("robot_t", "lift", "wx250s/base_link", 1)
        assert len(m.ee_poses) == 1 and list(m.gripper) == pytest.approx([1 - 0.06 / 0.074])
        np.testing.assert_allclose([m.ee_poses[0].position.x, m.ee_poses[0].position.y, m.ee_poses[0].position.z],
                                   want.tcp_positions[0], atol=1e-12)
        steps = [o.step for o in obs]
        assert steps == list(range(steps[0], steps[0] + len(steps))) and steps[0] == 0
        assert ros_node.spin_until(lambda: bool(events), 2.0, publish)
        assert (events[0].event, events[0].episode, events[0].robot_id) == (EpisodeEvent.EVENT_START, 1, "robot_t")
        assert status[-1] == "ok"
        # the object is no longer seen: within its max age (0.5 s) the node stops and says why
        send["object"] = False
        assert ros_node.spin_until(lambda: "object 'obj'" in status[-1], 3.0, publish), status[-3:]
        assert "stale" in status[-1] and "\n" not in status[-1]
        n = len(obs)
        ros_node.spin_until(lambda: False, 0.5, publish)
        assert len(obs) == n
        # NaN joint states are rejected: the joints go stale too, and the object's return changes nothing
        send["nan"] = True
        assert ros_node.spin_until(lambda: "joint state of" in status[-1], 3.0, publish), status[-3:]
        send["object"] = True
        assert ros_node.spin_until(lambda: "object" not in status[-1], 3.0, publish), status[-3:]
        assert "joint state of" in status[-1] and len(obs) == n
        send["nan"] = False
        assert ros_node.spin_until(lambda: len(obs) > n + 2, 3.0, publish)
        # a new episode on request: END of the running one, START of the next, steps from 0
        client = ros_node.create_client(StartEpisode, f"{NS}/start_episode")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(StartEpisode.Request(variant="test"))
        assert ros_node.spin_until(future.done, 5.0, publish)
        assert future.result().success and future.result().episode == 2
        assert ros_node.spin_until(lambda: obs[-1].episode == 2, 3.0, publish)
        kinds = [(e.event, e.episode) for e in events]
        assert kinds[-2:] == [(EpisodeEvent.EVENT_END, 1), (EpisodeEvent.EVENT_START, 2)]
        first = next(o for o in obs if o.episode == 2)
        assert first.step == 0
    finally:
        rc, out = finish(proc, tail=10**6)
        for s in subs:
            ros_node.destroy_subscription(s)
    assert rc == 0, out
    assert "joint_states: non-finite position for ['elbow']" in out and "rejected so far" in out


def test_a_task_without_perception_sources_fails_at_start_with_one_line(tmp_path, ros_domain):
    proc = start({**{k: v for k, v in PARAMS.items() if k != "objects"}, "task": "drawer"}, tmp_path)
    try:
        proc.wait(timeout=60)
    finally:
        _, out = finish(proc)
    assert proc.returncode == 2, out
    line = [x for x in out.splitlines() if x.startswith("observation_bridge_node:")]
    assert len(line) == 1 and "['front_x', 'cab_y', 'heights', 'opening']" in line[0], out
