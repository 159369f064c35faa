"""A stop signal while a node module is still importing ends the process cleanly (hitl_core/ros/boot.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hitl_core.ros import boot

# stands in for a node module whose imports (torch, rclpy, MuJoCo) take seconds
SLOW_IMPORTS = """
import time
print("IMPORTING", flush=True)
time.sleep(60)
def main(argv=None):
    return 0
"""


def _start(tmp_path: Path, *command: str) -> subprocess.Popen:
    (tmp_path / "slow_imports_node.py").write_text(SLOW_IMPORTS)
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    # a test run started in the background (`cmd &` in a script, nohup) ignores SIGINT, and the child would
    # inherit that: Python then installs no KeyboardInterrupt handler. Start the child as a foreground one.
    proc = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "IMPORTING"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_during_the_node_modules_imports_is_a_clean_exit(tmp_path, sig):
    proc = _start(tmp_path, "-m", "hitl_core.ros.boot", "slow_imports_node", "--ros-args")
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert time.monotonic() - t0 < 10  # not the module's 60 s


def test_without_boot_the_same_signal_is_a_traceback(tmp_path):
    """What the runner and the installed executables did before: the check above is not vacuous."""
    proc = _start(tmp_path, "-m", "slow_imports_node", "--ros-args")
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err


def test_boot_without_a_module_prints_its_usage(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["boot", "--ros-args"])
    assert boot.main() == 2
    assert "usage" in capsys.readouterr().err


def test_every_graph_node_module_is_an_installed_executable():
    """The deploy graph's modules (hitl_run) and the hitl_nodes entry points (ros2 launch) agree."""
    import re

    src = Path(__file__).resolve().parents[2]
    registered = {}
    for setup in src.glob("*/setup.py"):
        registered.update(re.findall(r'^    "(\w+_node)": "([\w.]+)",$', setup.read_text(), re.M))
    graph_modules = set(re.findall(r"^\s+module: ([\w.]+)$", (src / "hitl_bringup/config/deploy.yaml").read_text(),
                                   re.M))
    assert graph_modules and graph_modules <= set(registered.values())
    for name, module in registered.items():
        assert module.rsplit(".", 1)[-1] == name  # executable name = module name, as ros2 run users expect


def test_installed_executables_find_their_node_module():
    """Needs the colcon-built workspace on the path (its entry point metadata)."""
    from importlib.metadata import entry_points

    if not entry_points(group=boot.NODE_GROUP):
        pytest.skip("workspace not built/sourced: no hitl_nodes entry points")
    assert boot.node_module("arbiter_node") == "hitl_teleop.nodes.arbiter_node"
    assert boot.node_module("sim_arm_node") == "hitl_sim.nodes.sim_arm_node"
    with pytest.raises(SystemExit, match="no 'hitl_nodes' entry point"):
        boot.node_module("no_such_node")
