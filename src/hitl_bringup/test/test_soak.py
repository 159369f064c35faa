"""Fleet soak at a tiny size (bench/soak.py): 2 robots x 2 simulated operators, one fault of each kind.

Every fault is seen (the process died); no command comes from a dead node past its timeout, and the
robot holds with the right reason: a killed policy STALE_POLICY, a killed operator STALE_DEVICE or
DEADMAN_RELEASED (how soon is the benchmark's number, bench/soak.py's JSON). A dropped operator's robot goes
to the other operator; every episode the robots ran is in the bags (repaired after the recorder's
SIGKILL) except those that ended in the recorder's open chunk or while it was down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    import rclpy  # noqa: F401

    import hitl_msgs.msg  # noqa: F401

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def test_tiny_soak_every_fault_detected_held_reassigned_and_no_episode_lost(tmp_path):
    out = tmp_path / "soak.json"
    cmd = [sys.executable, str(ROOT / "bench" / "soak.py"), "--robots", "2", "--operators", "2",
           # the operator faults wait for an operator driving a robot until 30 s before the end (45 s here)
           "--duration", "75", "--schedule", "10:kill_policy,20:kill_device,30:kill_recorder,35:drop_operator",
           "--restart-s", "5", "--rejoin-s", "30", "--workdir", str(tmp_path / "soak"), "--out", str(out),
           "--domain", str(140 + os.getpid() % 60)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                     for p in sorted((tmp_path / "soak" / "logs").glob("*.log")))
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{logs}"
    result = json.loads(out.read_text())
    faults = {f["kind"]: f for f in result["faults"]}
    for kind, f in faults.items():
        assert f["t_kill"] is not None, f"{kind} not injected: {f['note']}"
        assert f["detected"], f"{kind}: the runner did not see {f['target']} die"
    # no command from a dead node past its timeout (no state under it, not holding, later than the kill plus
    # its 150 ms timeout), and a hold with its reason. How soon (the 200 ms bar) is the benchmark's number,
    # in the soak's JSON: on a loaded machine the arbiter itself may not run for a second (this test once
    # saw its first state 1.0 s after a drop, at load 22-53), and an arbiter that does not run commands nothing.
    for kind, reason in (("kill_policy", "STALE_POLICY"), ("kill_device", "STALE_DEVICE"),
                         ("drop_operator", "STALE_DEVICE")):
        f = faults[kind]
        assert f["commands_under_dead_node"] == 0, f
        if f["hold_reason"]:
            assert f["hold_reason"].split(":")[0] in (reason, "DEADMAN_RELEASED"), f
            assert f["hold_latency_exposed_s"] is not None, f
        else:
            assert f["held_ok"], f  # the robot left the dead node's control before its timeout
    drop = faults["drop_operator"]
    assert drop["reassigned_to"] and drop["reassigned_to"] != drop["target"], drop
    # found silent after operator_timeout_s (2 s in fleet_graph) and taken off, each time it is given a robot
    # (well before it rejoins, 30 s later; the margin is for a loaded machine: 3.19 s was seen once)
    assert drop["dead_operator_longest_assignment_s"] <= 2.0 + 3.0, drop
    s = result["summary"]
    assert s["episodes_run"] >= 2 and s["lost_outside_recorder_gap"] == 0, result["bags"]
    assert all(r["start"] and r["end"] for r in result["rss_kb"].values() if not r["killed"]), result["rss_kb"]
