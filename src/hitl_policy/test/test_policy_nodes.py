"""policy_node and uncertainty_node over DDS, started the way the runner starts them."""

from __future__ import annotations

import os
import random
import sys
import time

import numpy as np
import pytest

try:
    import rclpy
    from geometry_msgs.msg import Pose

    from hitl_msgs.msg import ActionChunk, EpisodeEvent, Observation, Uncertainty
except ImportError as exc:
    if os.environ.get("HITL_REQUIRE_ROS") == "1":
        raise
    pytest.skip(f"hitl_msgs/rclpy not importable ({exc}); source scripts/env.sh", allow_module_level=True)

from hitl_bringup.graph import NodeSpec
from hitl_bringup.runner import GraphRunner

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch
    from hitl_policy.models.diffusion import DiffusionPolicy

    torch.set_num_threads(1)
    p = DiffusionPolicy.create(3, 5, n_obs=2, horizon=4, n_action=2, hidden=[16, 16], num_inference_steps=2)
    return str(p.save(tmp_path_factory.mktemp("ckpt") / "tiny.pt"))


@pytest.fixture()
def domain(monkeypatch):
    dom = random.randint(30, 99)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(dom))
    return dom


def _obs(i: int, episode: int = 1) -> Observation:
    m = Observation()
    m.header.stamp.sec = 100 + i
    m.header.frame_id = "fr3_link0"
    m.robot_id, m.task, m.episode, m.step = "robot_0", "lift", episode, i
    m.names = ["x", "y", "z"]
    m.data = [0.4 + 0.01 * i, 0.0, 0.3]
    pose = Pose()
    pose.position.x, pose.position.z, pose.orientation.w = 0.4 + 0.01 * i, 0.3, 1.0
    m.ee_poses = [pose]
    m.gripper = [0.0]
    return m


def _spin_until(node, cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    return cond()


@pytest.mark.slow
def test_policy_node_answers_every_observation_with_the_rest_of_its_plan(checkpoint, domain, tmp_path):
    ns = f"/pn{os.getpid()}"
    specs = [NodeSpec("hitl_policy", "policy_node", "hitl_policy.nodes.policy_node", "policy", ns,
                      {"checkpoint": checkpoint, "seed": 1}),
             NodeSpec("hitl_policy", "uncertainty_node", "hitl_policy.nodes.uncertainty_node", "uncertainty",
                      ns, {"checkpoint": checkpoint, "estimator": "random", "threshold": 0.0})]
    runner = GraphRunner(specs, workdir=tmp_path, echo=False, log_dir=tmp_path / "logs")
    runner.start()
    rclpy.init(domain_id=domain)
    node = rclpy.create_node("policy_node_test", namespace=ns)
    chunks: list[ActionChunk] = []
    scores: list[Uncertainty] = []
    try:
        node.create_subscription(ActionChunk, "action_chunk", chunks.append, 50)
        node.create_subscription(Uncertainty, "uncertainty", scores.append, 50)
        pub = node.create_publisher(Observation, "observation", 10)
        ev = node.create_publisher(EpisodeEvent, "episode_event", 10)
        assert _spin_until(node, lambda: runner.dead() or (
            pub.get_subscription_count() >= 2 and ev.get_subscription_count() >= 2
            and node.count_publishers(f"{ns}/action_chunk") >= 1), 60) and not runner.dead(), (
            f"nodes did not come up: {runner.dead()} {_logs(tmp_path)}")
        start = EpisodeEvent(robot_id="robot_0", episode=1, event=EpisodeEvent.EVENT_START, task="lift")
        ev.publish(start)
        _spin_until(node, lambda: False, 0.3)
        for i in range(6):
            pub.publish(_obs(i))
            assert _spin_until(node, lambda i=i: len(chunks) > i, 30), f"no chunk for observation {i}"
        wrong = _obs(6)
        wrong.data = [1.0, 2.0]  # bad dimension: ignored with an error, nothing published
        pub.publish(wrong)
        _spin_until(node, lambda: False, 0.5)
        assert _spin_until(node, lambda: len(scores) >= 1, 30), _logs(tmp_path)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        codes = runner.stop()
    assert [c.observation_stamp.sec for c in chunks] == [100 + i for i in range(6)]
    assert [c.horizon for c in chunks] == [4, 3, 4, 3, 4, 3]
    assert [c.n_execute for c in chunks] == [2, 1, 2, 1, 2, 1]
    assert all(c.action_dim == 5 and list(c.dim_names) == ["x", "y", "z", "yaw", "gripper"] for c in chunks)
    first, second = (np.asarray(c.actions).reshape(c.horizon, 5) for c in chunks[:2])
    np.testing.assert_allclose(second, first[1:])  # the rest of the same plan
    assert chunks[0].policy == "diffusion" and chunks[0].header.frame_id == "fr3_link0"
    assert chunks[0].dt == 0.0 and chunks[-1].dt == pytest.approx(1.0)  # measured from the 1 s stamps
    u = scores[0]
    assert u.threshold == 0.0 and u.help_requested == (u.score > 0.0) and u.robot_id
    assert u.header.stamp.sec >= 100
    assert "expects 3" in _logs(tmp_path)
    assert codes == {"policy": 0, "uncertainty": 0}, _logs(tmp_path)


@pytest.mark.slow
def test_ebm_checkpoint_drives_the_policy_and_jeffreys_uncertainty_nodes(domain, tmp_path):
    """policy:=ebm end to end: Langevin actions from the policy node, Jeffreys scores (IIFL) from the
    uncertainty node, both from one EBM checkpoint."""
    import torch
    from hitl_policy.models.ebm import EBMPolicy

    torch.set_num_threads(1)
    ckpt = str(EBMPolicy(3, 5, {"hidden": [16, 16], "langevin_iterations": 5,
                                "inference_counter_examples": 16}).save(tmp_path / "ebm.pt"))
    ns = f"/pe{os.getpid()}"
    specs = [NodeSpec("hitl_policy", "policy_node", "hitl_policy.nodes.policy_node", "policy", ns,
                      {"checkpoint": ckpt, "seed": 1}),
             NodeSpec("hitl_policy", "uncertainty_node", "hitl_policy.nodes.uncertainty_node", "uncertainty",
                      ns, {"checkpoint": ckpt, "estimator": "jeffreys", "threshold": 1e9,
                           "estimator_params": "{n_samples: 4, iterations: 3}"})]
    runner = GraphRunner(specs, workdir=tmp_path, echo=False, log_dir=tmp_path / "logs")
    runner.start()
    rclpy.init(domain_id=domain)
    node = rclpy.create_node("ebm_node_test", namespace=ns)
    chunks: list[ActionChunk] = []
    scores: list[Uncertainty] = []
    try:
        node.create_subscription(ActionChunk, "action_chunk", chunks.append, 50)
        node.create_subscription(Uncertainty, "uncertainty", scores.append, 50)
        pub = node.create_publisher(Observation, "observation", 10)
        assert _spin_until(node, lambda: runner.dead() or (
            pub.get_subscription_count() >= 2 and node.count_publishers(f"{ns}/action_chunk") >= 1), 60) \
            and not runner.dead(), f"nodes did not come up: {runner.dead()} {_logs(tmp_path)}"
        for i in range(3):
            pub.publish(_obs(i))
            assert _spin_until(node, lambda i=i: len(chunks) > i, 30), f"no chunk for observation {i}"
        # the monitor scores the newest observation only: one score at least for the three
        assert _spin_until(node, lambda: len(scores) >= 1, 30), _logs(tmp_path)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        codes = runner.stop()
    assert [c.observation_stamp.sec for c in chunks] == [100, 101, 102]
    assert all(c.policy == "ebm" and c.horizon == 1 and c.n_execute == 1 and c.action_dim == 5 for c in chunks)
    assert all(np.isfinite(c.actions).all() for c in chunks)
    assert all(np.isfinite(u.score) and not u.help_requested and u.threshold == 1e9 for u in scores)
    assert scores[0].header.stamp.sec >= 100
    assert codes == {"policy": 0, "uncertainty": 0}, _logs(tmp_path)


def _logs(tmp_path) -> str:
    return "\n".join(p.read_text() for p in sorted((tmp_path / "logs").glob("*.log")))


def test_node_help_needs_no_ros():
    import subprocess

    for mod in ("policy_node", "uncertainty_node", "markers_node"):
        out = subprocess.run([sys.executable, "-m", f"hitl_policy.nodes.{mod}", "--help"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "parameters:" in out.stdout


def test_bad_checkpoint_is_one_line_error(tmp_path):
    import subprocess

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out = subprocess.run([sys.executable, "-m", "hitl_policy.nodes.policy_node", "--ros-args", "-p",
                          f"checkpoint:={bad}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "truncated or corrupt" in out.stderr and len(out.stderr.strip().splitlines()) == 1
