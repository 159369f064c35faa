"""sim_arm_node on MuJoCo lift over DDS: observation (no object identity), an ArmCommand moves the arm,
NaN/inf and wrong-shape commands are rejected with a clear log line and the episode goes on, scene
markers from the MuJoCo geometry, and the offscreen camera image with render:=true."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    from sensor_msgs.msg import Image
    from visualization_msgs.msg import MarkerArray

    from hitl_msgs.msg import ArmCommand, Observation

from hitl_sim.mj import MJ_TASKS

from hitl_sim import ros_conversions as rc

pytestmark = [pytest.mark.ros, pytest.mark.slow]
if "lift" not in MJ_TASKS:
    pytest.skip("no MuJoCo lift registered in hitl_sim.mj.MJ_TASKS", allow_module_level=True)
NS = f"/h2mj_{os.getpid()}"


@pytest.fixture(scope="module")
def mj_node(ros_graph):
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - read at the end
    cmd = [sys.executable, "-m", "hitl_sim.nodes.sim_arm_node", "--ros-args",
           "-p", "task:=lift", "-p", "backend:=mujoco", "-p", "arm:=franka", "-p", "rate_hz:=20.0",
           "-p", "max_episode_steps:=100000", "-p", "render:=true", "-p", "render_rate_hz:=4.0",
           "-p", "render_size:=[64, 48]", "-r", f"__ns:={NS}"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=ros_graph.env)
    yield proc, log.name
    proc.send_signal(signal.SIGINT)
    try:
        rc_ = proc.wait(timeout=60)  # a loaded 2-core machine: MuJoCo teardown can take a while
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert rc_ == 0, Path(log.name).read_text()[-3000:]


def _command(target: np.ndarray) -> ArmCommand:
    return rc.action_to_arm_command(target, 1, "fr3_link0")


def test_mujoco_node_over_dds(mj_node, ros_graph):
    proc, log_path = mj_node
    node = ros_graph.create_node("mj_sim_arm_node_test", namespace=NS)
    obs: list = []
    markers: list = []
    images: list = []
    node.create_subscription(Observation, "observation", obs.append, 10)
    node.create_subscription(MarkerArray, "scene_markers", markers.append, 10)
    node.create_subscription(Image, "camera/image_raw", images.append, 2)
    pub = node.create_publisher(ArmCommand, "arm_command", 10)

    def spin_until(cond, timeout=60.0, every=None):
        return ros_graph.spin_until(cond, timeout, every)

    def log() -> str:
        with open(log_path) as f:
            return f.read()

    # robosuite's import and numba's first compilation take tens of seconds on a loaded machine
    assert spin_until(lambda: len(obs) >= 3 and obs[-1].episode >= 1, timeout=180), \
        f"no observations:\n{log()[-3000:]}"
    first = rc.observation_msg_to_arrays(obs[-1])
    names = first["names"]
    assert first["task"] == "lift" and "obj_x" in names
    assert not any("type" in n or "grasp" in n for n in names)  # nothing a camera could not see
    ep = obs[-1].episode
    ee0 = first["ee"][0].copy()

    # a target 5 cm toward +y: the arm gets there (MuJoCo's controller: within 1 cm)
    target = ee0.copy()
    target[1] += 0.05
    good = _command(target)
    assert spin_until(lambda: abs(rc.observation_msg_to_arrays(obs[-1])["ee"][0, 1] - target[1]) < 0.01,
                      every=lambda: pub.publish(good)), "arm did not reach the commanded target"

    # NaN, inf and a wrong number of targets: rejected with a clear message; the episode goes on
    bad_nan = _command(target)
    bad_nan.targets[0].position.x = float("nan")
    bad_inf = _command(target)
    bad_inf.gripper[0] = float("inf")
    bad_shape = rc.action_to_arm_command(np.r_[target, target], 2, "fr3_link0")
    held = rc.observation_msg_to_arrays(obs[-1])["ee"][0].copy()
    step0 = obs[-1].step
    for bad in (bad_nan, bad_inf, bad_shape):
        pub.publish(bad)
        spin_until(lambda: False, timeout=0.3)
    assert spin_until(lambda: "non-finite value: targets[0].position.x" in log() and "non-finite value: gripper"
                      in log() and "targets" in log(), timeout=10), log()[-3000:]
    assert obs[-1].episode == ep and obs[-1].step > step0  # same episode, still stepping
    now = rc.observation_msg_to_arrays(obs[-1])["ee"][0]
    assert np.all(np.isfinite(now)) and np.linalg.norm(now[:3] - held[:3]) < 0.02

    # scene markers from the MuJoCo geometry (table, the object, the gripper) and the camera
    assert spin_until(lambda: bool(markers) and bool(images), timeout=30)
    ns = {m.ns for m in markers[-1].markers}
    assert any("table" in n for n in ns) and len(markers[-1].markers) >= 3, ns
    img = images[-1]
    assert (img.width, img.height, img.encoding) == (64, 48, "rgb8") and len(img.data) == 64 * 48 * 3
    assert np.frombuffer(bytes(img.data), np.uint8).std() > 1.0  # a picture, not a blank buffer
    assert proc.poll() is None
