"""More than 32 ROS processes on one host find each other under LOCALHOST discovery (hitl_core/ros/dds.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hitl_core.ros.dds import PROFILE, PROFILE_VAR, localhost_dds_env
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


def test_the_profile_is_added_only_for_localhost_discovery_without_a_profile_of_ones_own():
    assert localhost_dds_env({}) == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", PROFILE_VAR: str(PROFILE)}
    assert localhost_dds_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}) == {PROFILE_VAR: str(PROFILE)}
    assert localhost_dds_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}) == {}
    assert localhost_dds_env({PROFILE_VAR: "/mine.xml"}) == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    assert PROFILE.is_file() and "<maxInitialPeersRange>120</maxInitialPeersRange>" in PROFILE.read_text()


@pytest.mark.slow
@pytest.mark.ros
def test_the_34th_and_35th_processes_find_each_other_only_with_the_profile(ros_domain):
    base = {k: v for k, v in os.environ.items() if k != PROFILE_VAR}
    base.update(ROS_DOMAIN_ID=str(ros_domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    with_profile = {**base, **localhost_dds_env(base)}
    for env, expect in ((base, False), (with_profile, True)):
        holder = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "HELD"
            # rmw_fastrtps probes 32 participant ports: without the profile the two never meet
            assert _pair_matched(env, wait_s=30 if expect else 10) is expect, f"profile: {expect}"
        finally:
            holder.kill()
            holder.wait()
