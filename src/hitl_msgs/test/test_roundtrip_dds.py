"""Every hitl_msgs message and service crosses an OS-process boundary over DDS intact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hitl_core.ros.testing import ros_imports

HERE = Path(__file__).parent

with ros_imports():
    from msg_fill import fill, hitl_types, topic_for

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def peer(ros_graph):
    env = dict(ros_graph.env, PYTHONPATH=f"{HERE}:{os.environ.get('PYTHONPATH', '')}", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(HERE / "msg_fill.py"), "60"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert "READY" in line, f"peer did not start: {line}"
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


def test_fill_sets_every_field_to_a_non_default_value():
    for cls in hitl_types("msg"):
        filled, default = fill(cls(), 1), cls()
        for field in cls.get_fields_and_field_types():
            assert getattr(filled, field) != getattr(default, field), f"{cls.__name__}.{field} left at its default"


def test_every_message_type_crosses_processes_intact(peer, ros_node):
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile

    qos = QoSProfile(depth=5, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    received: dict[str, object] = {}
    types = hitl_types("msg")
    subs = [ros_node.create_subscription(c, topic_for(c), lambda m, n=c.__name__: received.setdefault(n, m), qos)
            for c in types]
    assert len(subs) >= 10
    ros_node.spin_until(lambda: len(received) >= len(types), 30, period=0.1)
    assert sorted(received) == sorted(c.__name__ for c in types)
    for cls in types:
        assert received[cls.__name__] == fill(cls(), 1), f"{cls.__name__} arrived altered"


def test_every_service_round_trips(peer, ros_node):
    for srv in hitl_types("srv"):
        client = ros_node.create_client(srv, f"/roundtrip/{srv.__name__}")
        assert client.wait_for_service(timeout_sec=20), f"{srv.__name__} service not found"
        future = client.call_async(fill(srv.Request(), 5))
        ros_node.spin_until(future.done, 20)
        assert future.result() == fill(srv.Response(), 11), f"{srv.__name__} request or response altered"
