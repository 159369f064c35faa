"""recorder_node: every topic of the graph into a rosbag2 MCAP bag that survives SIGKILL.

Thin adapter over hitl_bringup.bag.BagWriter: raw (serialized CDR) subscriptions, written as-is.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from hitl_core.recorder_report import REPORT_PERIOD_S, REPORT_TOPIC, encode_report
from hitl_core.ros.node_main import RosImports, run_node

from hitl_bringup.bag import BagError, BagWriter, WriterOptions, qos_dict
from hitl_bringup.bag.msgdefs import MessageDefinitionError, canonical_type, message_class

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

USAGE = """usage: recorder_node [--ros-args -p name:=value ... -r __ns:=/robot_0]

Records the graph's topics (docs/topics.md) under the node's namespace plus /fleet/assignments
into a rosbag2 MCAP bag <dir>/<name>_<i>.mcap + metadata.yaml. Chunks are closed and flushed
(+ fsync) at least every flush_period_s, so a SIGKILL loses at most that much; repair a killed bag
with `hitl_bag repair <dir>`. SIGINT/SIGTERM close the bag cleanly.
Every second it publishes recorder/matched (std_msgs/String, JSON, latched): per recorded topic the
publishers its reader has matched (hitl_core/recorder_report.py; sim_arm's wait_for_recorder reads it).

parameters:
  output            bag directory ('' = runs/bags/<timestamp>)                    ['']
  append_timestamp  append _<YYYYmmdd_HHMMSS> to a given output                    [true]
  topics            explicit topic names (relative names resolve in the namespace) [graph topics]
  discover          re-scan the graph every second and record new topics too
                    (those under the namespace; every topic when the namespace is /) [false]
  split_size_mb     start a new file past this size (0 = never)                   [0.0]
  split_duration_s  start a new file after this many seconds (0 = never)          [0.0]
  chunk_size        MCAP chunk size in bytes                                       [65536]
  flush_period_s    close the open chunk + flush + fsync at least this often      [0.5]
  compression       none | lz4                                                     [none]
  fsync             fsync after each flush                                         [true]
  robot_id, task, arm   stored in metadata.yaml custom_data                         ['']
"""

# docs/topics.md: relative name -> type (a fleet puts each robot under /robot_<i>/)
GRAPH_TOPICS: dict[str, str] = {
    "observation": "hitl_msgs/msg/Observation",
    "sim/state": "hitl_msgs/msg/Observation",
    "ee_pose": "geometry_msgs/msg/PoseStamped",
    "episode_event": "hitl_msgs/msg/EpisodeEvent",
    "scene_markers": "visualization_msgs/msg/MarkerArray",
    "action_chunk": "hitl_msgs/msg/ActionChunk",
    "uncertainty": "hitl_msgs/msg/Uncertainty",
    "uncertainty_markers": "visualization_msgs/msg/MarkerArray",
    "teleop": "hitl_msgs/msg/TeleopCommand",
    "arm_command": "hitl_msgs/msg/ArmCommand",
    "control_state": "hitl_msgs/msg/ControlState",
    "help_request": "hitl_msgs/msg/HelpRequest",
    "/fleet/assignments": "hitl_msgs/msg/FleetAssignment",
}
IGNORED = {"/rosout", "/parameter_events"}
# topics one node of the robot's graph publishes (docs/topics.md): a second publisher is foreign
# (another graph on the same ROS_DOMAIN_ID and namespace); teleop may have several devices
SINGLE_PUBLISHER = ("observation", "sim/state", "ee_pose", "episode_event", "scene_markers", "action_chunk",
                    "uncertainty", "arm_command", "control_state", "help_request")


def foreign_publishers_text(publishers: dict[str, list[str]]) -> str:
    """metadata.yaml custom_data `foreign_publishers`: 'topic: node, node; ...' for every topic with
    more publishers than its one (a second graph's messages are mixed into this bag)."""
    return "; ".join(f"{t}: {', '.join(sorted(n))}" for t, n in sorted(publishers.items()) if len(n) > 1)


def bag_directory(output: str, append_timestamp: bool, now: datetime | None = None) -> Path:
    """'' -> runs/bags/<ts>; 'x' -> x_<ts> (or x); a free name (suffix _1, _2... if taken)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d_%H%M%S")
    if not output:
        base = Path("runs/bags") / stamp
    else:
        base = Path(f"{output}_{stamp}" if append_timestamp else output)
    path, k = base, 1
    while path.exists() and any(path.iterdir()):
        path, k = base.with_name(f"{base.name}_{k}"), k + 1
    return path


class RecorderNode(Node):
    """The recorder (the module docstring; parameters in USAGE)."""

    def close(self) -> None:
        """Close the bag (metadata.yaml written); the shared runtime calls this on shutdown."""
        self.writer.close()
        total = sum(self.recorded.values())
        print(f"recorder_node: closed {self.bag_dir} ({total} messages on {len(self.recorded)} topics)",
              file=sys.stderr, flush=True)

    def __init__(self) -> None:
        super().__init__("recorder")
        p = self.declare_parameter
        output = str(p("output", "").value)
        append = bool(p("append_timestamp", True).value)
        explicit = p("topics", Parameter.Type.STRING_ARRAY).value
        self.discover = bool(p("discover", False).value)
        opts = WriterOptions(
            chunk_size=int(p("chunk_size", 65536).value),
            flush_period_s=float(p("flush_period_s", 0.5).value),
            split_size_mb=float(p("split_size_mb", 0.0).value),
            split_duration_s=float(p("split_duration_s", 0.0).value),
            compression=str(p("compression", "none").value),
            fsync=bool(p("fsync", True).value),
        )
        custom = {k: str(p(k, "").value) for k in ("robot_id", "task", "arm")}
        custom["robot_namespace"] = self.get_namespace()
        self.bag_dir = bag_directory(output, append)
        self.writer = BagWriter(self.bag_dir, opts, custom_data={k: v for k, v in custom.items() if v})
        # wanted: full topic name -> type ('' until the graph tells it)
        self.wanted: dict[str, str] = {}
        names = list(explicit) if explicit else list(GRAPH_TOPICS)
        for name in names:
            self.wanted[self.resolve_topic_name(name)] = GRAPH_TOPICS.get(name, "")
        self.warned: set[str] = set()
        self.recorded: dict[str, int] = {}
        self.readers: dict[str, object] = {}  # full topic name -> its subscription
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.report_topic = self.resolve_topic_name(REPORT_TOPIC)
        self.pub_report = self.create_publisher(String, REPORT_TOPIC, latched)
        self.single = {self.resolve_topic_name(t) for t in SINGLE_PUBLISHER}
        self.foreign = ""
        self.scan()
        self.create_timer(max(0.02, opts.flush_period_s / 2), self.writer.poll)
        self.create_timer(1.0, self.scan)
        self.create_timer(REPORT_PERIOD_S, self.report)
        self.get_logger().info(
            f"recording {len(self.wanted)} topics into {self.bag_dir.resolve()} "
            f"(chunk {opts.chunk_size} B, flush every {opts.flush_period_s} s)")

    def graph_types(self) -> dict[str, str]:
        return {n: t[0] for n, t in self.get_topic_names_and_types() if t}

    def scan(self) -> None:
        """Subscribe to wanted topics whose type is known; with discover, add new graph topics."""
        graph = self.graph_types()
        if self.discover:
            ns = self.get_namespace().rstrip("/")
            for name, tname in graph.items():
                if name in IGNORED or name in self.wanted or name == self.report_topic:
                    continue
                if not ns or name.startswith(ns + "/"):
                    self.wanted[name] = tname
        self.check_publishers()
        for name, tname in self.wanted.items():
            if name in self.recorded:
                continue
            tname = graph.get(name) or tname
            if tname:
                self.subscribe(name, tname)

    def check_publishers(self) -> None:
        """Note topics with a second publisher (another graph) in the bag's metadata, once seen."""
        seen = {}
        for name in self.single & set(self.recorded):
            infos = self.get_publishers_info_by_topic(name)
            seen[name] = [f"{i.node_namespace.rstrip('/')}/{i.node_name}" for i in infos]
        text = foreign_publishers_text(seen)
        if text and text != self.foreign and len(text) >= len(self.foreign):
            self.get_logger().error(f"foreign publishers (two graphs on one domain and namespace?): {text}")
            self.foreign = text
            self.writer.custom_data["foreign_publishers"] = text

    def subscribe(self, name: str, tname: str) -> None:
        try:
            tname = canonical_type(tname)
            cls = message_class(tname)
            infos = self.get_publishers_info_by_topic(name)
            self.writer.add_topic(name, tname, self.offered_qos(infos), self.type_hash(infos))
        except (MessageDefinitionError, BagError) as exc:
            if name not in self.warned:
                self.get_logger().warning(f"not recording {name} ({tname}): {exc}")
                self.warned.add(name)
            return
        reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos)
        latched = bool(infos) and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                      for i in infos)
        rel, dur = ReliabilityPolicy, DurabilityPolicy
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=rel.RELIABLE if reliable else rel.BEST_EFFORT,
                         durability=dur.TRANSIENT_LOCAL if latched else dur.VOLATILE)

        def on_message(data: bytes, info: dict, topic: str = name) -> None:
            self.on_message(topic, data, info)

        self.readers[name] = self.create_subscription(cls, name, on_message, qos, raw=True)
        self.recorded[name] = 0

    def report(self) -> None:
        """recorder/matched: the publishers each reader has matched, counted now."""
        matched = {name: sub.get_publisher_count() for name, sub in self.readers.items()}
        self.pub_report.publish(String(data=encode_report(matched, time.time())))

    @staticmethod
    def offered_qos(infos: list) -> list[dict]:
        out = []
        for i in infos:
            q = i.qos_profile
            best_effort = q.reliability == ReliabilityPolicy.BEST_EFFORT
            latched = q.durability == DurabilityPolicy.TRANSIENT_LOCAL
            out.append(qos_dict(
                reliability="best_effort" if best_effort else "reliable",
                durability="transient_local" if latched else "volatile", depth=int(q.depth),
                history="keep_all" if q.history == HistoryPolicy.KEEP_ALL else "keep_last"))
        return out or [qos_dict()]

    @staticmethod
    def type_hash(infos: list) -> str:
        for i in infos:
            text = str(getattr(i, "topic_type_hash", ""))
            if text.startswith("RIHS"):
                return text
        return ""

    def on_message(self, topic: str, data: bytes, info: dict) -> None:
        recv = int(info.get("received_timestamp") or 0) or time.time_ns()
        sent = int(info.get("source_timestamp") or 0) or recv
        self.writer.write(topic, data, recv, sent)
        self.recorded[topic] += 1


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, args, USAGE, "recorder_node", ROS, errors=(BagError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
