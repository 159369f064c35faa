"""Robots and the operator station on different "computers": two network namespaces joined by a veth pair.

The operator station (fleet_allocator_node + 2 sim_operator_node, fleet:=true) runs in one namespace,
8 fake robots (fleet_fake.py) in the other; DDS discovers across the veth link over UDP only (no
shared memory, discovery range SUBNET). Passes when the two most uncertain robots are driven by two
different operators. Needs root and ``ip netns``; skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hitl_core.ros.testing import output, spawn

pytestmark = [pytest.mark.ros, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
TAG = f"hf{os.getpid() % 10000}"
NS_R, NS_O = f"{TAG}r", f"{TAG}o"


def sh(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture()
def netns():
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2) on this machine")
    probe = sh("ip", "netns", "add", NS_R)
    if probe.returncode != 0:
        pytest.skip(f"network namespaces not permitted here: {probe.stderr.strip()}")
    try:
        steps = [
            ("ip", "netns", "add", NS_O),
            ("ip", "link", "add", f"{TAG}a", "type", "veth", "peer", "name", f"{TAG}b"),
            ("ip", "link", "set", f"{TAG}a", "netns", NS_R),
            ("ip", "link", "set", f"{TAG}b", "netns", NS_O),
        ]
        for ns, dev, addr in ((NS_R, f"{TAG}a", "10.199.0.1/24"), (NS_O, f"{TAG}b", "10.199.0.2/24")):
            steps += [("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"),
                      ("ip", "netns", "exec", ns, "ip", "addr", "add", addr, "dev", dev),
                      ("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up", "multicast", "on"),
                      ("ip", "netns", "exec", ns, "ip", "route", "add", "224.0.0.0/4", "dev", dev)]
        for cmd in steps:
            r = sh(*cmd)
            if r.returncode != 0:
                pytest.skip(f"could not set up the veth pair ({' '.join(cmd)}): {r.stderr.strip()}")
        ping = sh("ip", "netns", "exec", NS_R, "ping", "-c", "1", "-W", "2", "10.199.0.2")
        if ping.returncode != 0 and shutil.which("ping"):
            pytest.fail(f"veth pair does not carry packets: {ping.stdout} {ping.stderr}")
        yield
    finally:
        sh("ip", "netns", "del", NS_R)
        sh("ip", "netns", "del", NS_O)


def in_ns(ns: str, args: list[str]) -> subprocess.Popen:
    """``args`` run by Python in network namespace ``ns``, on the test's ROS domain (ros_domain)."""
    env = {"ROS_DOMAIN_ID": os.environ["ROS_DOMAIN_ID"], "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
           "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4", "PYTHONPATH": f"{HERE}:{os.environ.get('PYTHONPATH', '')}"}
    # not the project's loopback-only Fast DDS profile (scripts/env.sh): the two sides meet over the veth
    return spawn(["ip", "netns", "exec", ns, "env", "-u", "FASTDDS_DEFAULT_PROFILES_FILE", sys.executable, *args],
                 **env)


def test_allocation_and_handover_across_two_network_namespaces(netns, tmp_path, ros_domain):
    robots = [f"robot_{i}" for i in range(8)]
    ops = ["op_0", "op_1"]
    station = [in_ns(NS_O, ["-m", "hitl_teleop.nodes.fleet_allocator_node", "--ros-args",
                            "-p", f"robot_ids:=[{', '.join(robots)}]", "-p", f"operator_ids:=[{', '.join(ops)}]",
                            "-p", "min_intervention_s:=2.0", "-p", "request_timeout_s:=1.0"])]
    station += [in_ns(NS_O, ["-m", "hitl_teleop.nodes.sim_operator_node", "--ros-args", "-r", f"__node:={op}",
                             "-p", "fleet:=true", "-p", "task:=nav", "-p", f"operator_id:={op}", "-p", f"style:={j}",
                             "-p", "reaction_delay_ticks:=1"]) for j, op in enumerate(ops)]
    out = tmp_path / "robots.json"
    fake = in_ns(NS_R, [str(HERE / "fleet_fake.py"), "--robots", "8", "--out", str(out), "--timeout", "150"])
    try:
        rc = fake.wait(timeout=200)
        logs = output(fake) + "".join(output(p) for p in station)
        assert out.exists(), logs
        result = json.loads(out.read_text())
        assert rc == 0 and result["ok"], (result, logs)
        assert set(result["serving"]) == {"robot_1", "robot_3"}
        assert sorted(result["serving"].values()) == ops
        assert result["driven"]["robot_1"] == [result["serving"]["robot_1"]]
    finally:
        for p in [fake, *station]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
