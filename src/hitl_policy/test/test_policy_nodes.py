"""policy_node and uncertainty_node over DDS, started the way the runner starts them."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from hitl_core.ros.testing import RosGraph, ros_imports

with ros_imports():
    from geometry_msgs.msg import Pose

    from hitl_msgs.msg import ActionChunk, EpisodeEvent, Observation, Uncertainty

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


# stamps 1 s apart from a few seconds ago (set when the nodes are up): the nodes reject stamps far in
# the past or in the future (hitl_core/ros/runtime.py)
STAMP0 = [0]


def _obs(i: int, episode: int = 1) -> Observation:
    m = Observation()
    m.header.stamp.sec = STAMP0[0] + i
    m.header.frame_id = "fr3_link0"
    m.robot_id, m.task, m.episode, m.step = "robot_0", "lift", episode, i
    m.names = ["x", "y", "z"]
    m.data = [0.4 + 0.01 * i, 0.0, 0.3]
    pose = Pose()
    pose.position.x, pose.position.z, pose.orientation.w = 0.4 + 0.01 * i, 0.3, 1.0
    m.ee_poses = [pose]
    m.gripper = [0.0]
    return m


@contextmanager
def policy_pair(tmp_path, domain: int, ns: str, policy_params: dict, uncertainty_params: dict):
    """policy_node + uncertainty_node started by the runner, and a test node on their topics:
    yields a namespace with graph (RosGraph), runner, obs/events publishers, chunks, scores; ``codes`` after."""
    specs = [NodeSpec("hitl_policy", "policy_node", "hitl_policy.nodes.policy_node", "policy", ns, policy_params),
             NodeSpec("hitl_policy", "uncertainty_node", "hitl_policy.nodes.uncertainty_node", "uncertainty",
                      ns, uncertainty_params)]
    runner = GraphRunner(specs, workdir=tmp_path, echo=False, log_dir=tmp_path / "logs")
    runner.start()
    graph = RosGraph(f"test_{ns.strip('/')}", ns, domain=domain)
    node = graph.node
    pair = SimpleNamespace(graph=graph, runner=runner, chunks=[], scores=[], codes=None)
    try:
        node.create_subscription(ActionChunk, "action_chunk", pair.chunks.append, 50)
        node.create_subscription(Uncertainty, "uncertainty", pair.scores.append, 50)
        pair.obs = node.create_publisher(Observation, "observation", 10)
        pair.events = node.create_publisher(EpisodeEvent, "episode_event", 10)
        assert graph.spin_until(lambda: runner.dead() or (
            pair.obs.get_subscription_count() >= 2 and pair.events.get_subscription_count() >= 2
            and node.count_publishers(f"{ns}/action_chunk") >= 1), 60) and not runner.dead(), (
            f"nodes did not come up: {runner.dead()} {_logs(tmp_path)}")
        STAMP0[0] = int(time.time()) - 7
        yield pair
    finally:
        graph.close()
        pair.codes = runner.stop()


@pytest.mark.slow
def test_policy_node_answers_every_observation_with_the_rest_of_its_plan(checkpoint, ros_domain, tmp_path):
    with policy_pair(tmp_path, ros_domain, f"/pn{os.getpid()}", {"checkpoint": checkpoint, "seed": 1},
                     {"checkpoint": checkpoint, "estimator": "random", "threshold": 0.0}) as pair:
        chunks, scores = pair.chunks, pair.scores
        start = EpisodeEvent(robot_id="robot_0", episode=1, event=EpisodeEvent.EVENT_START, task="lift")
        pair.events.publish(start)
        pair.graph.spin_for(0.3)
        for i in range(6):
            pair.obs.publish(_obs(i))
            assert pair.graph.spin_until(lambda i=i: len(chunks) > i, 30), f"no chunk for observation {i}"
        wrong = _obs(6)
        wrong.data = [1.0, 2.0]  # bad dimension: ignored with an error, nothing published
        pair.obs.publish(wrong)
        pair.graph.spin_for(0.5)
        assert pair.graph.spin_until(lambda: len(scores) >= 1, 30), _logs(tmp_path)
    assert [c.observation_stamp.sec for c in chunks] == [STAMP0[0] + i for i in range(6)]
    assert [c.horizon for c in chunks] == [4, 3, 4, 3, 4, 3]
    assert [c.n_execute for c in chunks] == [2, 1, 2, 1, 2, 1]
    assert all(c.action_dim == 5 and list(c.dim_names) == ["x", "y", "z", "yaw", "gripper"] for c in chunks)
    first, second = (np.asarray(c.actions).reshape(c.horizon, 5) for c in chunks[:2])
    np.testing.assert_allclose(second, first[1:])  # the rest of the same plan
    assert chunks[0].policy == "diffusion" and chunks[0].header.frame_id == "fr3_link0"
    assert chunks[0].dt == 0.0 and chunks[-1].dt == pytest.approx(1.0)  # measured from the 1 s stamps
    u = scores[0]
    assert u.threshold == 0.0 and u.help_requested == (u.score > 0.0) and u.robot_id
    assert u.header.stamp.sec >= STAMP0[0]
    assert "expects 3" in _logs(tmp_path)
    assert pair.codes == {"policy": 0, "uncertainty": 0}, _logs(tmp_path)


@pytest.mark.slow
def test_ebm_checkpoint_drives_the_policy_and_jeffreys_uncertainty_nodes(ros_domain, tmp_path):
    """policy:=ebm end to end: Langevin actions from the policy node (with deploy-time sampling
    settings), Jeffreys scores (IIFL) from the uncertainty node, both from one EBM checkpoint."""
    import torch
    from hitl_policy.models.ebm import EBMPolicy

    torch.set_num_threads(1)
    ckpt = str(EBMPolicy(3, 5, {"hidden": [16, 16]}).save(tmp_path / "ebm.pt"))
    with policy_pair(tmp_path, ros_domain, f"/pe{os.getpid()}",
                     {"checkpoint": ckpt, "seed": 1,
                      "inference": "{inference_counter_examples: 8, langevin_iterations: 2}"},
                     {"checkpoint": ckpt, "estimator": "jeffreys", "threshold": 1e9,
                      "estimator_params": "{n_samples: 4, iterations: 3}"}) as pair:
        for i in range(3):
            pair.obs.publish(_obs(i))
            assert pair.graph.spin_until(lambda i=i: len(pair.chunks) > i, 30), f"no chunk for observation {i}"
        # the monitor scores the newest observation only: one score at least for the three
        assert pair.graph.spin_until(lambda: len(pair.scores) >= 1, 30), _logs(tmp_path)
    chunks, scores = pair.chunks, pair.scores
    assert [c.observation_stamp.sec for c in chunks] == [STAMP0[0] + i for i in range(3)]
    assert all(c.policy == "ebm" and c.horizon == 1 and c.n_execute == 1 and c.action_dim == 5 for c in chunks)
    assert all(np.isfinite(c.actions).all() for c in chunks)
    assert all(np.isfinite(u.score) and not u.help_requested and u.threshold == 1e9 for u in scores)
    assert scores[0].header.stamp.sec >= STAMP0[0]
    assert "inference {'inference_counter_examples': 8, 'langevin_iterations': 2}" in _logs(tmp_path)
    assert pair.codes == {"policy": 0, "uncertainty": 0}, _logs(tmp_path)


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


def test_bad_inference_setting_is_one_line_error(tmp_path):
    import subprocess

    from hitl_policy.models.ebm import EBMPolicy

    ckpt = EBMPolicy(3, 5, {"hidden": [8]}).save(tmp_path / "ebm.pt")
    out = subprocess.run([sys.executable, "-m", "hitl_policy.nodes.policy_node", "--ros-args", "-p",
                          f"checkpoint:={ckpt}", "-p", "inference:='{num_inference_steps: 3}'"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "ebm policy has no inference setting ['num_inference_steps']" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
