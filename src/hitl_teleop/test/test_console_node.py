"""console_node as a process, without a browser: refuses unsafe bind settings with one line, serves the
page only with the token (urllib), and its --help needs no ROS."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from hitl_core.ros.testing import output, ros_imports, spawn, stop

with ros_imports():
    import rclpy  # noqa: F401

    from hitl_msgs.msg import TeleopCommand  # noqa: F401


pytestmark = pytest.mark.ros
NODE = [sys.executable, "-m", "hitl_teleop.nodes.console_node"]


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*NODE, *args], capture_output=True, text=True, timeout=60)


def test_help_and_unsafe_settings_are_one_line_errors(ros_domain):
    assert "allow_remote" in run(["--help"]).stdout
    for params, needle in ((["address:=0.0.0.0"], "allow_remote:=true"),
                           (["address:=0.0.0.0", "allow_remote:=true"], "needs a token"),
                           (["token:=short"], "at least 8 characters")):
        r = run(["--ros-args", *[x for p in params for x in ("-p", p)]])
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("console_node:")]
        assert r.returncode == 2 and len(err) == 1 and needle in err[0], r.stderr


@pytest.mark.slow
def test_node_serves_the_page_only_with_the_token(ros_domain):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = spawn([*NODE, "--ros-args", "-p", f"port:={port}", "-p", "token:=node-test-token"])
    try:
        end = time.monotonic() + 60
        while "console on http" not in output(proc) and time.monotonic() < end:
            time.sleep(0.1)
        assert "console on http://127.0.0.1" in output(proc), output(proc)
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=node-test-token", timeout=5) as r:
            assert r.status == 200 and b"hitl operator console" in r.read()
    finally:
        stop(proc, "console_node")
