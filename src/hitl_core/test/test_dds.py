"""The project's DDS set-up (hitl_core/ros/dds.py): more than 32 ROS processes on one host find each other,
on loopback only and without shared memory; a user's own choice of range or profile is kept."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hitl_core.ros.dds import (
    DEFAULT_RANGE,
    LOCALHOST_PROFILE,
    LOOPBACK_PROFILE,
    PROFILE_VAR,
    RANGE_VAR,
    project_dds_env,
)
from hitl_core.ros.testing import ros_imports

with ros_imports():
    import rclpy  # noqa: F401  (skips without ROS)

# 33 participants in one process (one rclpy Context each) take participant indices 0-32 of the domain
HOLD = """
import time, rclpy
nodes = []
for i in range(33):
    c = rclpy.Context(); rclpy.init(context=c); nodes.append(rclpy.create_node(f"hold_{i}", context=c))
print("HELD", flush=True)
time.sleep(300)
"""
SUBSCRIBER = """
import time, rclpy
from std_msgs.msg import String
rclpy.init(); n = rclpy.create_node("pair_sub")
n.create_subscription(String, "/pair_topic", lambda m: None, 10)
time.sleep(300)
"""
PUBLISHER = """
import sys, time, rclpy
from std_msgs.msg import String
rclpy.init(); n = rclpy.create_node("pair_pub")
p = n.create_publisher(String, "/pair_topic", 10)
end = time.time() + float(sys.argv[1])
while time.time() < end and not p.get_subscription_count():
    time.sleep(0.1)
print("MATCHED" if p.get_subscription_count() else "ALONE", flush=True)
"""


def _pair_matched(env: dict[str, str], wait_s: float) -> bool:
    """Two more processes (participant indices 33 and 34): does the publisher see the subscriber?"""
    sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER], env=env)
    try:
        out = subprocess.run([sys.executable, "-c", PUBLISHER, str(wait_s)], env=env, capture_output=True,
                             text=True, timeout=wait_s + 120).stdout
    finally:
        sub.kill()
        sub.wait()
    return "MATCHED" in out


def _dds(env: dict[str, str]) -> tuple[str | None, str | None]:
    out = project_dds_env(env)
    return out.get(RANGE_VAR), out.get(PROFILE_VAR)


def test_the_project_profile_fills_in_only_what_the_user_left_open():
    loopback, localhost = str(LOOPBACK_PROFILE), str(LOCALHOST_PROFILE)
    assert _dds({}) == (DEFAULT_RANGE, loopback)
    assert _dds({RANGE_VAR: "LOCALHOST"}) == ("LOCALHOST", localhost)
    assert _dds({RANGE_VAR: "SUBNET"}) == ("SUBNET", None)
    assert _dds({RANGE_VAR: DEFAULT_RANGE}) == (DEFAULT_RANGE, None)  # Fast DDS's own defaults, as asked
    assert _dds({PROFILE_VAR: "/mine.xml"}) == (DEFAULT_RANGE, "/mine.xml")
    assert _dds({RANGE_VAR: "SUBNET", PROFILE_VAR: "/mine.xml"}) == ("SUBNET", "/mine.xml")
    # a shell that sourced scripts/env.sh and then chose another range: our profile follows the range
    sourced = {RANGE_VAR: DEFAULT_RANGE, PROFILE_VAR: loopback}
    assert _dds(sourced) == (DEFAULT_RANGE, loopback)
    assert _dds({**sourced, RANGE_VAR: "SUBNET"}) == ("SUBNET", None)
    assert _dds({**sourced, RANGE_VAR: "LOCALHOST"}) == ("LOCALHOST", localhost)
    assert _dds({RANGE_VAR: "", PROFILE_VAR: localhost}) == (DEFAULT_RANGE, loopback)
    assert "<maxInitialPeersRange>120</maxInitialPeersRange>" in LOCALHOST_PROFILE.read_text()
    text = LOOPBACK_PROFILE.read_text()
    assert "<maxInitialPeersRange>120</maxInitialPeersRange>" in text and "SharedMem" not in text


def test_scripts_env_sh_chooses_as_project_dds_env_does():
    root = Path(__file__).resolve().parents[3]
    sourced = {RANGE_VAR: DEFAULT_RANGE, PROFILE_VAR: str(LOOPBACK_PROFILE)}
    for given in ({}, {RANGE_VAR: "LOCALHOST"}, {RANGE_VAR: "SUBNET"}, {PROFILE_VAR: "/mine.xml"},
                  {RANGE_VAR: DEFAULT_RANGE}, sourced, {**sourced, RANGE_VAR: "SUBNET"},
                  {**sourced, RANGE_VAR: "LOCALHOST"}, {RANGE_VAR: "SUBNET", PROFILE_VAR: "/mine.xml"}):
        env = {k: v for k, v in os.environ.items() if k not in (RANGE_VAR, PROFILE_VAR)} | given
        shell = subprocess.run(["bash", "-c", f"source {root}/scripts/env.sh && echo \"$ROS_AUTOMATIC_DISCOVERY_RANGE"
                                f"|${{FASTDDS_DEFAULT_PROFILES_FILE:-}}\""], env=env, capture_output=True,
                               text=True, check=True).stdout.strip().split("|")
        want = _dds(given)
        assert (shell[0] or None, shell[1] or None) == want, given


def _udp_addresses(pid: int) -> set[str]:
    """The local addresses (hex, as /proc/net/udp writes them) of process ``pid``'s UDP sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = set()
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            addresses.add(fields[1].split(":")[0])
    return addresses


@pytest.mark.slow
@pytest.mark.ros
def test_the_34th_and_35th_processes_find_each_other_only_with_the_profile(ros_domain):
    base = {k: v for k, v in os.environ.items() if k != PROFILE_VAR}
    base.update(ROS_DOMAIN_ID=str(ros_domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    default = project_dds_env({k: v for k, v in base.items() if k != RANGE_VAR})
    for env, expect in ((base, False), (project_dds_env(base), True), (default, True)):
        holder = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "HELD"
            # rmw_fastrtps probes 32 participant ports: without the profile the two never meet
            assert _pair_matched(env, wait_s=30 if expect else 10) is expect, f"{env.get(PROFILE_VAR)}: {expect}"
        finally:
            holder.kill()
            holder.wait()


@pytest.mark.ros
def test_the_default_keeps_dds_on_loopback_without_shared_memory(ros_domain):
    env = project_dds_env({k: v for k, v in os.environ.items() if k not in (RANGE_VAR, PROFILE_VAR)})
    env.update(ROS_DOMAIN_ID=str(ros_domain), PYTHONUNBUFFERED="1")
    shm_before = set(os.listdir("/dev/shm"))
    sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER], env=env)
    try:
        assert "MATCHED" in subprocess.run([sys.executable, "-c", PUBLISHER, "60"], env=env, capture_output=True,
                                           text=True, timeout=180).stdout
        addresses = _udp_addresses(sub.pid)
        assert addresses and addresses <= {"0100007F"}, addresses  # 127.0.0.1, nothing on other interfaces
        assert not {f for f in set(os.listdir("/dev/shm")) - shm_before if "fastdds" in f}
    finally:
        sub.kill()
        sub.wait()
