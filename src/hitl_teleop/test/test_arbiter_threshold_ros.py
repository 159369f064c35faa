"""arbiter_node's threshold parameters over DDS: threshold:=0 is a threshold (not "unset"), and
threshold_file is read as the uncertainty node reads it. The driver publishes uncertainty 0.1 with a
message threshold of 1.0: an arbiter that took 0 for "unset" would use 1.0 and never ask for help."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
from hitl_core.ros.testing import RosGraph, output, ros_imports, stop

with ros_imports():
    from hitl_msgs.msg import ControlState

from test_arbiter_ros import Driver

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("how", ["threshold", "threshold_file"])
def test_threshold_zero_asks_for_help_at_any_positive_score(how, tmp_path):
    namespace = f"/arb_thr_{how}_{os.getpid()}"
    if how == "threshold":
        params = ["-p", "threshold:=0.0"]
    else:
        f = tmp_path / "cal.json"
        f.write_text(json.dumps({"threshold": 0.0}))
        params = ["-p", f"threshold_file:={f}"]
    graph = RosGraph("arb_thr")
    proc = graph.spawn([sys.executable, "-m", "hitl_teleop.nodes.arbiter_node", "--ros-args", "-r",
                        f"__ns:={namespace}", "-p", "arm:=franka", "-p", "gating:=robot", *params])
    d = Driver(namespace, graph.context)
    try:
        d.score = 0.1
        try:
            _, st = d.wait_for(lambda m: m.help_requested, 60, after=time.monotonic(), what="help request")
        except AssertionError:
            raise AssertionError(f"no help request; arbiter output:\n{output(proc)}") from None
        assert st.source == ControlState.SOURCE_PAUSED and st.reason == ControlState.REASON_ROBOT_GATED
        assert "threshold 0.0" in output(proc)
    finally:
        d.close()
        stop(proc, "arbiter_node")
        graph.close()
