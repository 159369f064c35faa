"""Fuzz every subscriber of the graph's nodes over DDS (the arbiter's own, with its holds:
src/hitl_teleop/test/test_arbiter_events_ros.py).

Each node runs as its own process; the test asks the graph which topics (and types) each node
subscribes to and publishes to every one of them messages built from the type alone: empty, every
float NaN, inf or 1e300, arrays of wrong lengths (0, 1, 7, 100) full of NaN, empty and unknown
strings, extreme integers, stamps far in the past and future, and an older stamp after a newer one
(out of order). Every node must stay up and answer SIGINT with a clean exit (no traceback), and every
node must have counted and reported what it rejected, per topic and kind (the shared runtime's
screening and callback guard, src/hitl_core/hitl_core/ros/runtime.py: "... message rejected ...
N rejected so far" while running, "N input messages rejected: {...}" at shutdown); the nodes screened
by the runtime name each kind sent (non-finite, stamps in the future and the past, out of order); the
simulated arm holds instead of executing a rejected command. The recorder (raw subscriptions) keeps
every message as it came and closes its bag.
"""

from __future__ import annotations

import ast
import importlib
import math
import re
import socket
import sys
import time

import pytest
from hitl_core.ros.testing import ros_imports

with ros_imports():
    from hitl_msgs.msg import Observation

from hitl_core.ros.testing import finish, output
from launch_helpers import tiny_checkpoint

pytestmark = [pytest.mark.ros, pytest.mark.slow]
NS = "/fuzz"

NODES = {  # name: (module, parameters)
    "sim_arm": ("hitl_sim.nodes.sim_arm_node", ["arm:=franka", "task:=lift"]),
    "policy": ("hitl_policy.nodes.policy_node", ["checkpoint:={ckpt}"]),
    "uncertainty": ("hitl_policy.nodes.uncertainty_node", ["checkpoint:={ckpt}", "estimator:=random",
                                                           "threshold:=0.5"]),
    "sim_operator": ("hitl_teleop.nodes.sim_operator_node", ["arm:=franka", "task:=lift", "robot_id:=fuzz"]),
    "markers": ("hitl_policy.nodes.markers_node", []),
    "arm_adapter": ("hitl_teleop.nodes.arm_adapter_node", ["arm:=franka"]),
    "observation_bridge": ("hitl_teleop.nodes.observation_bridge_node", []),  # the real graph's parameters
    "joy_teleop": ("hitl_teleop.nodes.joy_teleop_node", ["arm:=franka"]),
    "spacemouse": ("hitl_teleop.nodes.spacemouse_node", ["arm:=franka", "source:=spacenav"]),
    "trakstar": ("hitl_teleop.nodes.trakstar_node", ["arm:=franka"]),
    "fleet_allocator": ("hitl_teleop.nodes.fleet_allocator_node", ["robot_ids:=[fuzz]"]),
    "console": ("hitl_teleop.nodes.console_node", ["port:={port}", "token:=fuzz-console-token"]),
    "recorder": ("hitl_bringup.recorder_node", ["output:={folder}/bag", "append_timestamp:=false"]),
}
# screened by the runtime before their callbacks (the others screen their inputs themselves and hold)
RUNTIME_SCREENED = ("policy", "uncertainty", "sim_operator", "markers", "joy_teleop", "spacemouse", "trakstar",
                    "fleet_allocator", "console")
KINDS = ("non-finite value", "stamp in the future", "stamp in the past", "out of order")
SKIP_TOPICS = {"/parameter_events", "/rosout"}
NAN, INF = float("nan"), float("inf")


def _message_class(type_name: str):
    pkg, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def _fill(msg, value: float, length: int | None, text: str | None, stamp_sec: int | None, depth: int = 0):
    """Set every field of ``msg`` recursively: floats to ``value``, float arrays to ``length`` copies,
    strings to ``text``, header stamps to ``stamp_sec``."""
    for field, kind in msg.get_fields_and_field_types().items():
        current = getattr(msg, field)
        base = re.sub(r"^sequence<(.+?)(, \d+)?>$", r"\1", kind).split("[")[0]
        is_seq = kind.startswith("sequence<") or "[" in kind
        fixed = re.search(r"\[(\d+)\]$", kind)
        if base in ("double", "float"):
            if is_seq:
                n = int(fixed.group(1)) if fixed else (length if length is not None else len(current))
                setattr(msg, field, [value] * n)
            else:
                setattr(msg, field, value)
        elif base == "string" and text is not None:
            setattr(msg, field, [text] * (length or 1) if is_seq and not fixed else text if not is_seq else current)
        elif base in ("uint8", "int32", "uint32", "int8", "int64", "uint16") and not is_seq and value != value:
            bits = {"uint8": 255, "int8": 127, "uint16": 65535, "int32": 2**31 - 1, "uint32": 2**32 - 1,
                    "int64": 2**63 - 1}[base]
            setattr(msg, field, bits)
        elif "/" in base and depth < 4:
            if field == "stamp" and stamp_sec is not None and base == "builtin_interfaces/Time":
                current.sec = stamp_sec
                continue
            if is_seq and not fixed:
                cls = _message_class(base if base.count("/") == 2 else base.replace("/", "/msg/"))
                items = [cls() for _ in range(length if length is not None else 1)]
                for it in items:
                    _fill(it, value, length, text, stamp_sec, depth + 1)
                setattr(msg, field, items)
            elif not is_seq:
                _fill(current, value, length, text, stamp_sec, depth + 1)
    return msg


def fuzz_messages(cls, now_sec: int) -> list:
    """The malformed variants of one message type."""
    out = [cls()]
    for value in (NAN, INF, -INF, 1e300):
        for length in (None, 0, 1, 7, 100):
            out.append(_fill(cls(), value, length, None, None))
    out.append(_fill(cls(), 0.1, None, "", None))
    out.append(_fill(cls(), 0.1, 3, "unknown_\u2206_name", None))
    for stamp in (now_sec + 10**6, 1, now_sec, now_sec - 5):  # far future, far past, then out of order
        out.append(_fill(cls(), 0.1, None, None, stamp))
    return out


@pytest.fixture(scope="module")
def nodes(tmp_path_factory, ros_graph):
    from hitl_bringup.graph import build_graph
    from hitl_bringup.runner import write_params_file

    folder = tmp_path_factory.mktemp("fuzz")
    ckpt = tiny_checkpoint("franka", folder)
    real = {s.name: s for s in build_graph(arm="franka", sim=False, task="lift", checkpoint=ckpt, record=False)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = {}
    for name, (module, params) in NODES.items():
        cmd = [sys.executable, "-m", module, "--ros-args", "-r", f"__node:={name}", "-r", f"__ns:={NS}"]
        if name == "observation_bridge":
            cmd += ["--params-file", str(write_params_file(real[name], folder))]
        for p in params:
            cmd += ["-p", p.format(ckpt=ckpt, port=port, folder=folder)]
        procs[name] = ros_graph.spawn(cmd)
    yield procs
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()


def test_every_subscriber_survives_fuzzed_input_and_reports_it(nodes, ros_node):
    node, ex = ros_node, ros_node.graph.executor
    obs_seen: list = []
    node.create_subscription(Observation, f"{NS}/observation", obs_seen.append, 100)
    subscribed: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + 180  # every node up (policy and monitor load torch) and subscribed
    while time.monotonic() < deadline:
        ex.spin_once(timeout_sec=0.2)
        dead = {n: p.returncode for n, p in nodes.items() if p.poll() is not None}
        assert not dead, f"nodes exited before the fuzzing: {dead}\n" + "\n".join(
            f"--- {n}\n{output(nodes[n])}" for n in dead)
        up = set(node.get_node_names())
        if set(NODES) <= up:
            subscribed = {n: {t: ts[0] for t, ts in node.get_subscriber_names_and_types_by_node(n, NS)
                              if t not in SKIP_TOPICS} for n in NODES}
            if all(subscribed.values()):
                break
    assert all(subscribed.values()), f"nodes without subscriptions: {subscribed}"
    time.sleep(2.0)  # discovery both ways
    pubs = {}
    for topics in subscribed.values():
        for topic, tname in topics.items():
            if topic not in pubs:
                pubs[topic] = node.create_publisher(_message_class(tname), topic, 100)
    # every node's reader matched before the first message: on a loaded machine a fixed second was not
    # enough, and a message sent before the match is never delivered (a kind then goes unreported)
    # (the volatile ones: a latched reader never matches these volatile writers)
    from rclpy.qos import DurabilityPolicy

    readers = {t: sum(i.qos_profile.durability == DurabilityPolicy.VOLATILE
                      for i in node.get_subscriptions_info_by_topic(t)) for t in pubs}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(pubs[t].get_subscription_count() < n for t, n in readers.items()):
        ex.spin_once(timeout_sec=0.05)
    unmatched = {t: (pubs[t].get_subscription_count(), n) for t, n in readers.items()
                 if pubs[t].get_subscription_count() < n}
    assert not unmatched, unmatched
    sent = 0
    for _topic, pub in sorted(pubs.items()):
        for msg in fuzz_messages(pub.msg_type, int(time.time())):  # "now" per topic: sending takes a while
            pub.publish(msg)
            sent += 1
            ex.spin_once(timeout_sec=0.005)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        ex.spin_once(timeout_sec=0.05)
    assert sent > 200
    alive = {n: p.poll() for n, p in nodes.items()}
    assert all(rc is None for rc in alive.values()), {n: (rc, output(nodes[n])) for n, rc in alive.items()
                                                      if rc is not None}
    # the simulated arm never executed a non-finite command
    for o in obs_seen[-5:]:
        for pose in o.ee_poses:
            assert all(math.isfinite(v) for v in (pose.position.x, pose.position.y, pose.position.z))
    logs = {}
    for n, p in nodes.items():
        rc, logs[n] = finish(p, 200000)
        assert rc == 0, f"{n} did not stop cleanly ({rc}):\n{logs[n][-3000:]}"
        assert "Traceback" not in logs[n], f"{n}:\n{logs[n][-3000:]}"
    rejected = r"arm_command message rejected \(.*: holding, the episode goes on\); \d+ rejected so far"
    assert re.search(rejected, logs["sim_arm"]), logs["sim_arm"]
    summaries = {}
    for n, text in logs.items():
        found = re.search(r"(\d+) input messages rejected: (\{.*\})", text)
        summaries[n] = (int(found.group(1)), ast.literal_eval(found.group(2))) if found else (0, {})
    print(f"sent {sent} messages to {len(pubs)} topics; rejected per node: "
          + ", ".join(f"{n} {summaries[n][0]}" for n in NODES))
    silent = [n for n in NODES if n != "recorder" and not (summaries[n][0] and "rejected so far" in logs[n])]
    assert not silent, {n: logs[n][-1500:] for n in silent}
    for n in RUNTIME_SCREENED:
        kinds = {key.split(": ", 1)[1] for key in summaries[n][1]}
        assert set(KINDS) <= kinds, (n, summaries[n], logs[n][-4000:])
    assert "recorder_node: closed" in logs["recorder"] and summaries["recorder"][0] == 0, logs["recorder"][-1500:]
