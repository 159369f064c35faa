"""uncertainty_node: scores observations with the configured estimator and asks for help.

Loads the same checkpoint as the policy node, keeps the same observation history, scores every
``every_n``-th observation (on a worker thread that always takes the newest one, so a slow
estimator never builds a backlog) and publishes ``uncertainty`` (hitl_msgs/Uncertainty) and, with
``publish_markers``, ``uncertainty_markers`` (the EE path coloured by score, the sampled vectors,
the mode means, a label).
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from hitl_core.ros.node_main import RosImports, run_node
from hitl_core.ros.runtime import parse_mapping_param
from hitl_core.threshold import resolve_threshold  # the one rule for 'unset' (< 0)

from hitl_policy.chunking import ObsHistory, current_action
from hitl_policy.deployment import checkpoint_action_names, load_policy_on
from hitl_policy.markers import MarkerDrawer

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node
    from visualization_msgs.msg import MarkerArray

    from hitl_msgs.msg import ControlState, EpisodeEvent, Observation, Uncertainty

USAGE = """usage: uncertainty_node [--help] [--ros-args -p name:=value ...]

Scores observations with an uncertainty estimator; publishes `uncertainty` and `uncertainty_markers`.

parameters:
  checkpoint       (string, required) the policy checkpoint (same as the policy node)
  estimator        (string, '')       registry name; '' = the policy kind's default
                                      (diffusion: denoising_vector, ebm: jeffreys,
                                       ensemble: ensemble_variance)
  estimator_params (string, '{}')     YAML mapping of estimator keyword arguments
  threshold        (double, -1.0)     help threshold (0 is legal); < 0 = unset: read threshold_file
  threshold_file   (string, '')       calibration file (JSON/YAML with a 'threshold' key, or a number)
  every_n          (int, 1)           score every n-th observation
  publish_markers  (bool, true)       also publish uncertainty_markers
  path_length      (int, 1000)        EE path points kept for the markers
  robot_id, device ('cpu'), seed (0), threads (1)
topics: sub observation, episode_event, control_state; pub uncertainty, uncertainty_markers
"""


def _rows(a, dim: int = 3) -> np.ndarray:
    """(n, d) -> (n, dim) float32: the first ``dim`` columns (xyz of the action), zero-padded."""
    a = np.asarray(a, np.float32)
    if a.size == 0:
        return np.zeros((0, dim), np.float32)
    a = a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)
    out = np.zeros((len(a), dim), np.float32)
    out[:, : min(dim, a.shape[1])] = a[:, :dim]
    return out


def result_fields(result, threshold: float, alpha: float = 0.0, origin=None, dim: int = 3) -> dict:
    """UncertaintyResult -> the Uncertainty message's fields, drawn in the xyz of the action.

    The estimators' mode means are mixture means of the sampled vectors (displacements), so they
    are drawn at ``origin`` (the current end-effector position) + mean.
    """
    score = float(result.score)
    means = _rows(result.mode_means, dim)
    if origin is not None and len(means):
        means = means + _rows(origin, dim)[0]
    return {
        "estimator": str(result.estimator), "score": score, "threshold": float(threshold),
        "help_requested": bool(np.isfinite(score) and score > threshold),
        "mode_count": int(result.mode_count), "mode_divergence": float(result.mode_divergence),
        "within_mode_variance": float(result.within_mode_variance), "alpha": float(alpha), "dim": dim,
        "mode_weights": np.asarray(result.mode_weights, np.float32).reshape(-1).tolist(),
        "mode_means": means.reshape(-1).tolist(),
        "sample_points": _rows(result.points, dim).reshape(-1).tolist(),
        "sample_vectors": _rows(result.vectors, dim).reshape(-1).tolist(),
    }


class UncertaintyNode(Node):
    """Scores observations on a worker thread and publishes uncertainty (the module docstring)."""

    def __init__(self) -> None:
        super().__init__("uncertainty")
        ckpt = self.declare_parameter("checkpoint", "").value
        name = self.declare_parameter("estimator", "").value
        params = parse_mapping_param(self.declare_parameter("estimator_params", "{}").value, "estimator_params")
        self.threshold = resolve_threshold(float(self.declare_parameter("threshold", -1.0).value),
                                           self.declare_parameter("threshold_file", "").value)
        self.every_n = max(1, int(self.declare_parameter("every_n", 1).value))
        self.markers_on = bool(self.declare_parameter("publish_markers", True).value)
        path_length = int(self.declare_parameter("path_length", 1000).value)
        self.robot_id = self.declare_parameter("robot_id", "").value or self.get_namespace().strip("/")
        device = self.declare_parameter("device", "cpu").value
        seed = int(self.declare_parameter("seed", 0).value)
        threads = int(self.declare_parameter("threads", 1).value)
        if not ckpt:
            from hitl_policy.checkpoint import CheckpointError  # torch: not for --help

            raise CheckpointError("parameter 'checkpoint' is empty: pass -p checkpoint:=<file>")
        self.policy = load_policy_on(ckpt, device, seed, threads)
        from hitl_policy.registry import DEFAULT_ESTIMATOR, make_estimator  # torch: not for --help

        name = name or DEFAULT_ESTIMATOR.get(self.policy.kind, "")
        self.estimator = make_estimator(name, self.policy, **params)
        self.alpha = float(getattr(self.estimator, "alpha", 0.0) or 0.0)
        self.action_names = checkpoint_action_names(ckpt, self.policy.act_dim)
        self.history = ObsHistory(self.policy.n_obs)
        self.drawer = MarkerDrawer(path_length)
        self.episode: int | None = None
        self.count = 0
        self.pending: tuple | None = None  # (obs msg, history window, current) newest only
        self.cv = threading.Condition()
        self.running = True
        self.pub = self.create_publisher(Uncertainty, "uncertainty", 10)
        self.mpub = self.create_publisher(MarkerArray, "uncertainty_markers", 10)
        self.create_subscription(Observation, "observation", self.on_obs, 10)
        self.create_subscription(EpisodeEvent, "episode_event", self.on_event, 10)
        self.create_subscription(ControlState, "control_state", self.drawer.on_control_state, 10)
        self.worker = threading.Thread(target=self.work, daemon=True)
        self.worker.start()
        self.get_logger().info(f"estimator {name} {params} on {self.policy.kind} policy {ckpt}; "
                               f"threshold {self.threshold:.4g}, every {self.every_n} observation(s)")

    def on_event(self, msg: EpisodeEvent) -> None:
        if msg.event in (EpisodeEvent.EVENT_START, EpisodeEvent.EVENT_RESET):
            self.history.reset()
            self.episode = int(msg.episode)
            self.count = 0

    def on_obs(self, msg: Observation) -> None:
        obs = np.asarray(msg.data, np.float32)
        if obs.size != self.policy.obs_dim:  # counted and logged by the shared runtime (hitl_core/ros/runtime.py)
            raise ValueError(f"observation has {obs.size} entries, the policy expects {self.policy.obs_dim}")
        if self.episode != int(msg.episode):
            self.history.reset()
            self.episode = int(msg.episode)
            self.count = 0
        try:
            self.history.push(obs)
        except ValueError as exc:
            self.get_logger().error(f"step {msg.step}: {exc}")
            self.history.reset()
            return
        self.count += 1
        if (self.count - 1) % self.every_n:
            return
        poses = np.array([[p.position.x, p.position.y, p.position.z, p.orientation.x, p.orientation.y,
                           p.orientation.z, p.orientation.w] for p in msg.ee_poses]).reshape(-1, 7)
        current = current_action(self.action_names, list(msg.names), obs, poses, np.asarray(msg.gripper))
        with self.cv:
            self.pending = (msg, self.history.array(), current)
            self.cv.notify()

    def work(self) -> None:
        while self.running:
            with self.cv:
                while self.pending is None and self.running:
                    self.cv.wait(0.2)
                job, self.pending = self.pending, None
            if job is not None:
                try:
                    self.score(*job)
                except Exception as exc:  # keep the monitor alive; say what went wrong
                    if not self.running or not self.context.ok():
                        return  # shutting down: the publishers are gone
                    self.get_logger().error(f"estimator failed: {type(exc).__name__}: {exc}")

    def score(self, obs_msg: Observation, window: np.ndarray, current: np.ndarray) -> None:
        t0 = time.perf_counter()
        result = self.estimator.estimate(window[None], current[None])[0]
        fields = result_fields(result, self.threshold, self.alpha, origin=current[:3])
        msg = Uncertainty()
        msg.header.stamp = obs_msg.header.stamp
        msg.header.frame_id = obs_msg.header.frame_id
        msg.robot_id = self.robot_id or obs_msg.robot_id
        for key, value in fields.items():
            setattr(msg, key, value)
        msg.compute_time_ms = (time.perf_counter() - t0) * 1e3
        self.pub.publish(msg)
        if self.markers_on and obs_msg.ee_poses:
            p = obs_msg.ee_poses[0].position
            self.drawer.add_pose(int(obs_msg.episode), np.array([p.x, p.y, p.z]), msg.score)
            self.mpub.publish(self.drawer.markers(msg, obs_msg.header.frame_id, obs_msg.header.stamp))

    def close(self) -> None:
        """Stop the scoring worker (the shared runtime calls this before destroy_node)."""
        self.running = False
        with self.cv:
            self.cv.notify()
        self.worker.join(timeout=2.0)


def main(args: list[str] | None = None) -> int:
    return run_node(UncertaintyNode, args, USAGE, "uncertainty_node", ROS, errors=_setup_errors)


def _setup_errors() -> tuple[type[BaseException], ...]:
    from hitl_policy.checkpoint import CheckpointError  # torch: imported only when the node starts

    return (CheckpointError, ValueError, ImportError, TypeError)


if __name__ == "__main__":
    sys.exit(main())
