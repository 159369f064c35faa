"""GraphRunner process handling: start, prefixed output, death reports, ordered stop."""

from __future__ import annotations

import io
import os
import sys
import time

import pytest
from hitl_bringup.graph import NodeSpec
from hitl_bringup.runner import GraphRunner, main

FAKE = '''
import signal, sys, time
name = sys.argv[sys.argv.index("-r") + 1].split(":=")[1]
time.sleep(0.5 if name == "policy" else 0.0)  # a slow starter: the arm driver must wait for it
print("args", " ".join(sys.argv[1:]), flush=True)
print("up at", time.monotonic(), flush=True)
if "--die" in open(sys.argv[sys.argv.index("--params-file") + 1]).read():
    sys.exit(3)
def bye(*_):
    print("stopping at", time.monotonic(), flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, bye)
while True:
    time.sleep(0.05)
'''


def _pythonpath(folder):
    """The fake node module's folder, and this interpreter's path (the runner starts nodes through
    hitl_core.ros.boot)."""
    return {"PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}


def _spec(name, die=False):
    params = {"die": "--die" if die else "no"}
    return NodeSpec("pkg", name, "fake_node", name, "/robot_0", params, [("a", "b")])


def test_runner_starts_streams_reports_and_stops_recorder_last(tmp_path):
    (tmp_path / "fake_node.py").write_text(FAKE)
    out = io.StringIO()
    specs = [_spec("sim_arm"), _spec("recorder"), _spec("policy"), _spec("broken", die=True)]
    runner = GraphRunner(specs, workdir=tmp_path, env=_pythonpath(tmp_path), out=out,
                         log_dir=tmp_path / "logs")
    runner.start(settle=0.1)
    assert runner.wait(until=lambda: "broken" in runner.dead(), timeout=30)
    deadline = time.monotonic() + 30
    while "args" not in out.getvalue().split("[policy")[-1] and time.monotonic() < deadline:
        time.sleep(0.1)
    runner.report_deaths()
    codes = runner.stop(grace=5)
    text = out.getvalue()
    assert "node broken exited with code 3" in text
    assert codes == {"sim_arm": 0, "recorder": 0, "policy": 0, "broken": 3}
    assert "[policy  ] args --ros-args -r __node:=policy -r __ns:=/robot_0 --params-file" in text
    assert "-r a:=b" in text
    stops, ups = {}, {}
    for line in text.splitlines():
        for word, table in (("stopping at", stops), ("up at", ups)):
            if word in line:
                table[line.split("]")[0].strip("[ ")] = float(line.rsplit(" ", 1)[1])
    assert ups["sim_arm"] > ups["policy"]  # the arm driver starts once the others are up
    assert stops["policy"] < stops["recorder"]  # the recorder is stopped last
    assert (tmp_path / "logs" / "policy.log").read_text().startswith("args")


def test_cli_dry_run_prints_every_node(capsys):
    assert main(["deploy", "arm:=yumi", "checkpoint:=c.pt", "--dry-run"]) == 0
    text = capsys.readouterr().out
    for module in ("hitl_sim.nodes.sim_arm_node", "hitl_policy.nodes.policy_node",
                   "hitl_teleop.nodes.arbiter_node", "hitl_bringup.recorder_node"):
        assert f"-m hitl_core.ros.boot {module} --ros-args" in text
    assert main(["deploy", "arm:=widowx", "sim:=false", "checkpoint:=c.pt", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "not starting /joy" in text and "ros2 run joy joy_node" in text
    assert "-m hitl_core.ros.boot hitl_teleop.nodes.joy_teleop_node --ros-args" in text
    assert main(["deploy", "arm:=ur5", "checkpoint:=c.pt", "--dry-run"]) == 2
    assert "unknown arm" in capsys.readouterr().err


EXITING = '''
import signal, sys, time
params = open(sys.argv[sys.argv.index("--params-file") + 1]).read()
print("up", flush=True)
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
if "exit_after" in params:
    time.sleep(0.3)
    print("checkpoint is corrupt: cannot load", flush=True)
    sys.exit(int(params.split("code: ")[1].split()[0].strip("'")))
while True:
    time.sleep(0.05)
'''


def _exiting(name, code=None):
    params = {"exit_after": 1, "code": str(code)} if code is not None else {"run": 1}
    return NodeSpec("pkg", name, "exiting_node", name, "", params, [])


def test_a_required_node_that_fails_ends_the_graph_with_exit_1_and_the_reason(tmp_path, capsys):
    import threading

    from hitl_bringup.runner import run_graph

    (tmp_path / "exiting_node.py").write_text(EXITING)
    specs = [_exiting("sim_arm"), _exiting("policy", code=2), _exiting("recorder"), _exiting("markers")]
    runner = GraphRunner(specs, workdir=tmp_path, env=_pythonpath(tmp_path), out=io.StringIO())
    t0 = time.monotonic()
    assert run_graph(runner, threading.Event(), timeout=60) == 1
    assert time.monotonic() - t0 < 30
    err = capsys.readouterr().err
    assert "required node policy exited with code 2" in err and "checkpoint is corrupt" in err
    assert all(p.poll() is not None for p in runner.procs.values())  # every other node stopped


def test_the_arm_driver_finishing_its_episodes_ends_the_graph_with_exit_0(tmp_path, capsys):
    import threading

    from hitl_bringup.runner import run_graph

    (tmp_path / "exiting_node.py").write_text(EXITING)
    specs = [_exiting("sim_arm", code=0), _exiting("policy"), _exiting("recorder"), _exiting("markers")]
    out = io.StringIO()
    runner = GraphRunner(specs, workdir=tmp_path, env=_pythonpath(tmp_path), out=out)
    assert run_graph(runner, threading.Event(), timeout=60) == 0
    assert "sim_arm finished (exit 0): stopping the graph" in out.getvalue()
    assert {n: p.returncode for n, p in runner.procs.items()} == {n: 0 for n in runner.procs}
    assert capsys.readouterr().err == ""


def test_a_node_that_does_not_stop_cleanly_fails_the_run_and_is_named(tmp_path, capsys):
    import threading

    from hitl_bringup.runner import run_graph

    (tmp_path / "exiting_node.py").write_text(EXITING.replace("sys.exit(0))", "sys.exit(int('crash' in params)))"))
    specs = [_exiting("sim_arm", code=0), _exiting("policy"), _exiting("recorder"),
             NodeSpec("pkg", "uncertainty", "exiting_node", "uncertainty", "", {"run": 1, "crash": 1}, [])]
    runner = GraphRunner(specs, workdir=tmp_path, env=_pythonpath(tmp_path), out=io.StringIO())
    assert run_graph(runner, threading.Event(), timeout=60) == 1
    err = capsys.readouterr().err
    assert "node uncertainty did not stop cleanly (exit code 1)" in err and "policy" not in err, err


@pytest.mark.slow
@pytest.mark.ros
def test_hitl_run_with_a_corrupt_checkpoint_ends_with_exit_1_and_the_reason(tmp_path, ros_domain):
    """The issue's case: the policy and uncertainty nodes exit 2; before, the sim arm waited forever."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint")
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # ROS_DOMAIN_ID: ros_domain's
    proc = subprocess.run([sys.executable, "-m", "hitl_bringup.runner", "deploy", f"checkpoint:={bad}",
                           "record:=false"], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "required node policy exited with code 2" in proc.stderr or \
        "required node uncertainty exited with code 2" in proc.stderr, proc.stderr
    assert "corrupt checkpoint" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
