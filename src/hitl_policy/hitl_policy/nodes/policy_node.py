"""policy_node: answers every observation with an action chunk (diffusion or EBM checkpoint).

Subscribes ``observation`` (hitl_msgs/Observation) and ``episode_event``; publishes ``action_chunk``
(hitl_msgs/ActionChunk) whose ``observation_stamp`` is the stamp of the observation it answers.
Re-plans every ``n_action`` observations; in between republishes the rest of the current plan.
"""

from __future__ import annotations

import sys
import time
from collections import deque

import numpy as np
from hitl_core.ros.node_main import RosImports, run_node
from hitl_core.ros.runtime import parse_mapping_param

from hitl_policy.chunking import ChunkScheduler
from hitl_policy.deployment import checkpoint_action_names, load_policy_on

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node

    from hitl_msgs.msg import ActionChunk, EpisodeEvent, Observation

USAGE = """usage: policy_node [--help] [--ros-args -p name:=value ...]

Answers every `observation` with an `action_chunk` (re-plans every n_action observations).

parameters:
  checkpoint (string, required)  policy checkpoint (diffusion | ebm | ensemble)
  robot_id   (string, '')        robot id for logs (default: the namespace)
  device     (string, 'cpu')     torch device
  seed       (int, 0)            sampling seed
  threads    (int, 1)            torch CPU threads
  dt         (double, 0.0)       seconds between actions in the chunk; 0 = measured from the
                                 observation stamps (median of the last 10 intervals)
  inference  (string, '{}')      YAML mapping of sampling settings (faster, coarser actions; no
                                 retraining): ebm inference_counter_examples, langevin_iterations,
                                 inference_select; diffusion num_inference_steps
topics: sub observation, episode_event; pub action_chunk
"""


class PolicyNode(Node):
    """Answers every observation with an action chunk (the module docstring; parameters in USAGE)."""

    def __init__(self) -> None:
        super().__init__("policy")
        ckpt = self.declare_parameter("checkpoint", "").value
        self.robot_id = self.declare_parameter("robot_id", "").value or self.get_namespace().strip("/")
        device = self.declare_parameter("device", "cpu").value
        seed = int(self.declare_parameter("seed", 0).value)
        threads = int(self.declare_parameter("threads", 1).value)
        self.dt = float(self.declare_parameter("dt", 0.0).value)
        inference = parse_mapping_param(self.declare_parameter("inference", "{}").value, "inference")
        self.intervals: deque[float] = deque(maxlen=10)
        self.last_stamp: float | None = None
        if not ckpt:
            from hitl_policy.checkpoint import CheckpointError  # torch: not for --help

            raise CheckpointError("parameter 'checkpoint' is empty: pass -p checkpoint:=<file>")
        self.policy = load_policy_on(ckpt, device, seed, threads, inference)
        p = self.policy
        self.names = checkpoint_action_names(ckpt, p.act_dim)
        self.sched = ChunkScheduler(p.n_obs, p.n_action, p.horizon)
        self.episode: int | None = None
        self.pub = self.create_publisher(ActionChunk, "action_chunk", 10)
        self.create_subscription(Observation, "observation", self.on_obs, 10)
        self.create_subscription(EpisodeEvent, "episode_event", self.on_event, 10)
        self.get_logger().info(
            f"{p.kind} policy from {ckpt}: obs_dim {p.obs_dim}, act_dim {p.act_dim}, n_obs {p.n_obs}, "
            f"horizon {p.horizon}, n_action {p.n_action}" + (f"; inference {inference}" if inference else ""))

    def on_event(self, msg: EpisodeEvent) -> None:
        if msg.event in (EpisodeEvent.EVENT_START, EpisodeEvent.EVENT_RESET):
            self.sched.reset()
            self.episode = int(msg.episode)

    def on_obs(self, msg: Observation) -> None:
        obs = np.asarray(msg.data, np.float32)
        if obs.size != self.policy.obs_dim:  # counted and logged by the shared runtime (hitl_core/ros/runtime.py)
            raise ValueError(f"observation has {obs.size} entries, the policy expects {self.policy.obs_dim}")
        if self.episode != int(msg.episode):  # missed START event: still start fresh
            self.sched.reset()
            self.episode = int(msg.episode)
        stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        if self.last_stamp is not None and 0.0 < stamp - self.last_stamp < 5.0:
            self.intervals.append(stamp - self.last_stamp)
        self.last_stamp = stamp
        try:
            if self.sched.observe(obs):
                t0 = time.perf_counter()
                chunk = self.policy.predict_chunk(self.sched.obs_window()[None])[0]
                self.sched.set_plan(chunk, (time.perf_counter() - t0) * 1e3)
            out = self.sched.next()
        except ValueError as exc:
            self.get_logger().error(f"step {msg.step}: {exc}; no chunk published")
            self.sched.reset()
            return
        out_msg = ActionChunk()
        out_msg.header.stamp = self.get_clock().now().to_msg()
        out_msg.header.frame_id = msg.header.frame_id
        out_msg.observation_stamp = msg.header.stamp
        out_msg.policy = self.policy.kind
        out_msg.horizon = len(out.actions)
        out_msg.n_execute = out.n_execute
        out_msg.action_dim = self.policy.act_dim
        out_msg.dim_names = self.names
        out_msg.actions = out.actions.astype(float).reshape(-1).tolist()
        out_msg.dt = self.dt or (float(np.median(self.intervals)) if self.intervals else 0.0)
        out_msg.inference_time_ms = out.inference_time_ms
        self.pub.publish(out_msg)


def main(args: list[str] | None = None) -> int:
    return run_node(PolicyNode, args, USAGE, "policy_node", ROS, errors=_setup_errors)


def _setup_errors() -> tuple[type[BaseException], ...]:
    from hitl_policy.checkpoint import CheckpointError  # torch: imported only when the node starts

    return (CheckpointError, ValueError)


if __name__ == "__main__":
    sys.exit(main())
