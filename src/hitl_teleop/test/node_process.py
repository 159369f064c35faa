"""Node processes for the ROS tests, with their output in a temporary file.

Not a pipe: nobody reads a pipe while a test runs, and a node that logs a warning per tick (watchdog
holds on a loaded machine) fills the pipe's 64 KiB and blocks on its next write, frozen mid-test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile


def spawn(cmd: list[str], **env_vars: str) -> subprocess.Popen:
    """Start ``cmd`` unbuffered (extra environment ``env_vars``), stdout and stderr to ``proc.log``
    (read it with ``output``)."""
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the process object)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **env_vars)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    return proc


def output(proc: subprocess.Popen, tail: int = 3000) -> str:
    """The last ``tail`` characters the process wrote so far."""
    proc.log.seek(0)
    return proc.log.read()[-tail:]


def finish(proc: subprocess.Popen, tail: int = 3000) -> tuple[int, str]:
    """SIGINT if still running, wait (kill after 15 s): (exit code, the output's last ``tail`` characters)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode, output(proc, tail)


def stop(proc: subprocess.Popen, name: str = "node") -> str:
    """``finish`` and assert a clean exit; returns the output's tail."""
    rc, out = finish(proc)
    assert rc == 0, f"{name} did not exit cleanly on SIGINT ({rc}):\n{out}"
    return out
