"""The launch files under the real `ros2 launch` (a system install, else the upstream launch overlay
built by .ci/run into build/ros2-launch from ../shared/ros2-launch/overlay.sh).

- deploy.launch.py for each arm in sim, `episodes:=2`: the episodes run (END of episodes 1 and 2 in
  the bag, each after `sim_arm.max_episode_steps:=15` steps: the override is applied, typed), the
  graph ends by itself with exit 0, every node finishes cleanly (no SIGTERM escalation, no
  traceback) and the bag is closed whole;
- a corrupt checkpoint: the required policy/uncertainty nodes exit 2 and the launch ends with exit 1
  and the reason (before: the sim arm waited for action chunks forever);
- an unknown argument: exit 1 naming the valid ones;
- Ctrl-C (SIGINT to the whole process group; launch forwards its own): exit 0, no traceback, bag whole;
- the launcher SIGKILLed: no `arm_command` later than 1 s after the kill, no node left running.

One failure is retried once, and only that one: a node whose own cleanup finished (the recorder's bag
closed whole) stuck in the middleware's teardown (rclpy's destroy_node / context shutdown inside Fast
DDS while its peers leave at the same moment), ended by the shutdown watchdog of
hitl_core/ros/runtime.py with exit 1 and its stack. Seen once in CI (2026-12-03, the recorder, franka);
the runtime bounds it on purpose, the launch test still requires a clean run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hitl_core.ros.testing import poll
from launch_helpers import SIM_BACKEND, bag_is_whole, launch_env, ros2_launch_prefix, tiny_checkpoint

pytestmark = [pytest.mark.ros, pytest.mark.slow]

PREFIX = ros2_launch_prefix()
if PREFIX is None:
    pytest.skip("no `ros2 launch`: neither a system install nor the overlay build/ros2-launch "
                "(.ci/run builds it when ../shared/ros2-launch exists)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("launch_ckpt")
    return {arm: tiny_checkpoint(arm, folder) for arm in ("franka", "widowx", "yumi")}


def _launch(args: str, log: Path, domain: int, file: str = "deploy.launch.py") -> subprocess.Popen:
    """`ros2 launch hitl_bringup <file> <args>` in its own process group (like a terminal's job)."""
    cmd = f"source scripts/env.sh >/dev/null && {PREFIX}exec ros2 launch hitl_bringup {file} {args}"
    return subprocess.Popen(["bash", "-c", cmd], cwd=ROOT, env=launch_env(domain), stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait(proc: subprocess.Popen, log: Path, timeout: float) -> tuple[int, str]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"ros2 launch did not end within {timeout:.0f} s:\n{log.read_text()[-4000:]}")
    return proc.returncode, log.read_text()


def _clean(text: str) -> list[str]:
    bad = ("Traceback", "KeyboardInterrupt", "escalating to", "process has died", "exit code -")
    return [line for line in text.splitlines() if any(b in line for b in bad)]


def _only_the_middleware_teardown_race(text: str) -> bool:
    """Every failure in ``text`` is a node that died with exit 1 after the shutdown watchdog dumped its
    stack inside rclpy's teardown (see the module docstring), and nothing else went wrong."""
    bad = _clean(text)
    died = [line for line in bad if "process has died" in line]
    return (bool(died) and len(died) == len(bad) and all("exit code 1," in line for line in died)
            and "Timeout (0:00:0" in text
            and any(f"in {frame}" in text for frame in ("destroy_node", "try_shutdown", "shutdown")))


def _episode_ends(bag: Path) -> list[tuple[int, int]]:
    from hitl_core.bag_reader import MessageDecoder, iter_bag

    dec = MessageDecoder()
    ends = set()
    for m in iter_bag(bag):
        if m.topic.endswith("/episode_event"):
            e = dec.decode(m)
            if e.event == 1:
                ends.add((int(e.episode), int(e.steps)))
    return sorted(ends)


@pytest.mark.parametrize("arm", ["franka", "widowx", "yumi"])
def test_deploy_launch_runs_the_episodes_and_ends_cleanly(arm, checkpoints, tmp_path, ros_domain):
    log = tmp_path / "launch.log"
    args = (f"arm:={arm} backend:={SIM_BACKEND[arm]} checkpoint:={checkpoints[arm]} episodes:=2 "
            f"sim_arm.max_episode_steps:=15 "
            f"estimator:=random threshold:=0.7 namespace:=l{arm} bag:={tmp_path / 'bag'}")
    rc, text = _wait(_launch(args, log, ros_domain), log, 300)
    if rc == 0 and _only_the_middleware_teardown_race(text):
        print(f"retrying once: the middleware teardown race ({_clean(text)})")
        shutil.rmtree(next(p for p in tmp_path.glob("bag*") if p.is_dir()))
        rc, text = _wait(_launch(args, log, ros_domain), log, 300)
    assert rc == 0, text[-4000:]
    assert not _clean(text), _clean(text)
    assert "process[sim_arm_node-1] was required: shutting down" in text, text[-3000:]
    finished = [line for line in text.splitlines() if "process has finished cleanly" in line]
    assert len(finished) == 6, text[-3000:]  # sim_arm, policy, uncertainty, arbiter, sim_operator, recorder
    bag = next(p for p in tmp_path.glob("bag*") if p.is_dir())
    assert bag_is_whole(bag) == []
    assert _episode_ends(bag) == [(1, 15), (2, 15)]


def test_a_required_node_failing_ends_the_launch_with_exit_1_and_the_reason(tmp_path, ros_domain):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint")
    log = tmp_path / "launch.log"
    rc, text = _wait(_launch(f"checkpoint:={bad} record:=false", log, ros_domain), log, 180)
    assert rc == 1, text[-3000:]
    assert "required node" in text and "exited with code 2" in text, text[-3000:]
    assert "Traceback" not in text

    log2 = tmp_path / "unknown.log"
    rc, text = _wait(_launch("checkpoint:=c.pt tresh:=0.3", log2, ros_domain), log2, 60)
    assert rc == 1 and "unknown launch argument(s) ['tresh']; valid: ['arm', 'backend', 'bag'," in text, text[-3000:]
    rc, text = _wait(_launch("checkpoint:=c.pt", log2, ros_domain, "record.launch.py"), log2, 60)
    assert rc == 1 and "unknown launch argument(s) ['checkpoint']" in text, text[-3000:]


def _wait_for(path: Path, word: str, timeout: float) -> bool:
    """True once ``word`` is in the file (checked at least once)."""
    return bool(poll(lambda: path.exists() and word in path.read_text(), timeout, 0.2))


def test_ctrl_c_ends_the_launch_cleanly_and_the_bag_whole(checkpoints, tmp_path, ros_domain):
    log = tmp_path / "launch.log"
    proc = _launch(f"checkpoint:={checkpoints['franka']} estimator:=random threshold:=0.7 "
                   f"bag:={tmp_path / 'bag'}", log, ros_domain)
    started = _wait_for(log, "PAUSED -> HUMAN", 240)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: every process of the group
    rc, text = _wait(proc, log, 60)
    assert started, text[-3000:]
    assert rc == 0, text[-3000:]
    assert not _clean(text), _clean(text)
    bag = next(p for p in tmp_path.glob("bag*") if p.is_dir())
    assert bag_is_whole(bag) == []


def test_a_sigkilled_launcher_leaves_no_node_commanding_the_arm(checkpoints, tmp_path, ros_domain):
    from hitl_core.ros.testing import RosGraph

    from hitl_msgs.msg import ArmCommand

    log = tmp_path / "launch.log"
    proc = _launch(f"checkpoint:={checkpoints['franka']} record:=false namespace:=killed", log, ros_domain)
    graph = RosGraph("kill_watch", domain=ros_domain)
    received: list[float] = []
    graph.node.create_subscription(ArmCommand, "/killed/arm_command", lambda m: received.append(time.monotonic()), 10)
    try:
        graph.spin_until(lambda: len(received) >= 20, 240, period=0.1)  # the arbiter commands the arm
        assert len(received) >= 20, log.read_text()[-3000:]
        pids = [int(p) for p in re.findall(r"process started with pid \[(\d+)\]", log.read_text())]
        assert len(pids) == 5, log.read_text()[-3000:]
        t_kill = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        graph.spin_for(3.0)
    finally:
        graph.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            _wait(proc, log, 30)
    late = received[-1] - t_kill
    assert late < 1.0, f"arm_command still published {late:.2f} s after the launcher was killed"
    alive = [p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()]
    assert not alive, f"nodes still running after the launcher's SIGKILL: {alive}"
