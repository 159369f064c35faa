"""bench/dds_restart.py at a tiny size: a listener SIGKILLed and started again hears the talker (and
is heard) in both DDS set-ups, and the UDP-only one leaves nothing in /dev/shm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_restarted_listeners_hear_the_talker_in_both_setups(tmp_path):
    out = tmp_path / "dds_restart.json"
    cmd = [sys.executable, str(ROOT / "bench" / "dds_restart.py"), "--crowd", "2", "--restarts", "3",
           "--settle-s", "2", "--hear-timeout-s", "60", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-2000:]
    setups = json.loads(out.read_text())["setups"]
    for name, result in setups.items():
        assert result["listener_started"] == 3, (name, result["rows"])
        assert result["listener_heard"] == result["talker_heard_listener"] == 3, (name, result["rows"])
        assert result["one_way_failures"] == 0
    assert setups["udp-only"]["shm_files_left"] <= 0  # (other processes may remove theirs meanwhile)
