"""hitl_core.ros.testing's domain leases: no two test processes on this machine get the same ROS domain."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from hitl_core.ros import testing


def test_a_domain_held_by_another_process_is_never_leased(monkeypatch, tmp_path):
    monkeypatch.setattr(testing, "LOCK_DIR", tmp_path)
    monkeypatch.setattr(testing, "DOMAINS", range(40, 42))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(tmp_path / '40.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for _ in range(5):  # the choice is random: every time the free one
            lease = testing.lease_domain()
            assert lease.domain == 41
            lease.release()
        first = testing.lease_domain()
        with pytest.raises(RuntimeError, match="every ROS domain"):
            testing.lease_domain()  # 40 held by the other process, 41 by this one
        first.release()
    finally:
        holder.kill()
        holder.wait()
    # the holder's death frees its domain
    leases = [testing.lease_domain() for _ in range(2)]
    assert sorted(lease.domain for lease in leases) == [40, 41]
    for lease in leases:
        lease.release()


def test_ros_domain_fixture_sets_the_environment(ros_domain):
    import os

    assert os.environ["ROS_DOMAIN_ID"] == str(ros_domain) and ros_domain in testing.DOMAINS


def test_leased_domains_keep_their_dds_ports_out_of_the_ephemeral_range():
    """Fast DDS's ports for domain d are 7400 + 250 d .. + 249; an ephemeral (outgoing) socket of any
    process may take one of them first when they fall inside net.ipv4.ip_local_port_range."""
    low = 32768
    with contextlib.suppress(OSError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert 7400 + 250 * max(testing.DOMAINS) + 249 < low
