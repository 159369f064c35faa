"""Observation history and action-chunk scheduling for a policy answering every observation.

The policy node keeps the last ``n_obs`` observations (padded by repeating the first, as the
training windows are), re-plans every ``n_action`` observations and in between republishes the
rest of its current plan, so that ``actions[0]`` is always the action for the observation at hand.
Everything here is pure numpy so it is tested without ROS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


class ObsHistory:
    """The last ``n_obs`` observations; the oldest is repeated until the history is full."""

    def __init__(self, n_obs: int) -> None:
        if n_obs < 1:
            raise ValueError(f"n_obs must be >= 1, got {n_obs}")
        self.n_obs = n_obs
        self._buf: deque[np.ndarray] = deque(maxlen=n_obs)

    def reset(self) -> None:
        self._buf.clear()

    def __len__(self) -> int:
        return len(self._buf)

    def push(self, obs: np.ndarray) -> None:
        obs = np.asarray(obs, np.float32).reshape(-1)
        if self._buf and obs.shape != self._buf[-1].shape:
            raise ValueError(f"observation has {obs.size} entries, the history holds {self._buf[-1].size}")
        if not np.all(np.isfinite(obs)):
            raise ValueError("observation contains NaN or inf")
        self._buf.append(obs)

    def array(self) -> np.ndarray:
        """(n_obs, obs_dim), oldest first."""
        if not self._buf:
            raise RuntimeError("empty observation history")
        items = list(self._buf)
        pad = [items[0]] * (self.n_obs - len(items))
        return np.stack(pad + items)


@dataclass
class ChunkOut:
    """What to publish for one observation."""

    actions: np.ndarray      # (remaining, act_dim): actions[0] is the action for this observation
    n_execute: int           # how many leading actions are still meant to be executed
    replanned: bool          # a fresh chunk was sampled for this observation
    inference_time_ms: float


class ChunkScheduler:
    """Decides when to sample a new chunk and what part of the plan answers each observation.

    Usage per observation: ``if s.observe(obs): s.set_plan(policy(s.history()))`` then ``s.next()``.
    """

    def __init__(self, n_obs: int, n_action: int, horizon: int) -> None:
        if not 1 <= n_action <= horizon:
            raise ValueError(f"need 1 <= n_action <= horizon, got n_action={n_action}, horizon={horizon}")
        self.n_action = n_action
        self.horizon = horizon
        self.history = ObsHistory(n_obs)
        self._plan: np.ndarray | None = None
        self._k = 0  # observations answered from the current plan
        self._inference_ms = 0.0

    def reset(self) -> None:
        """New episode: forget the history and the plan."""
        self.history.reset()
        self._plan = None
        self._k = 0

    def observe(self, obs: np.ndarray) -> bool:
        """Add an observation; True when a new plan must be sampled for it."""
        self.history.push(obs)
        return self.needs_plan

    @property
    def needs_plan(self) -> bool:
        return self._plan is None or self._k >= self.n_action

    def obs_window(self) -> np.ndarray:
        """(n_obs, obs_dim) policy input for the current observation."""
        return self.history.array()

    def set_plan(self, chunk: np.ndarray, inference_time_ms: float = 0.0) -> None:
        chunk = np.asarray(chunk, np.float64)
        if chunk.ndim != 2 or chunk.shape[0] < self.n_action:
            raise ValueError(f"chunk must be (horizon >= {self.n_action}, act_dim), got {chunk.shape}")
        if not np.all(np.isfinite(chunk)):
            raise ValueError("policy produced NaN or inf actions")
        self._plan = chunk
        self._k = 0
        self._inference_ms = float(inference_time_ms)

    def next(self) -> ChunkOut:
        """The rest of the plan for the current observation; advances by one step."""
        if self._plan is None:
            raise RuntimeError("no plan: call set_plan first")
        if self._k >= self.n_action:
            raise RuntimeError("plan exhausted: sample a new chunk first")
        out = ChunkOut(actions=self._plan[self._k:].copy(), n_execute=self.n_action - self._k,
                       replanned=self._k == 0, inference_time_ms=self._inference_ms if self._k == 0 else 0.0)
        self._k += 1
        return out


EE_FIELDS = ("x", "y", "z", "yaw", "gripper")  # the simulator's per-end-effector action layout


def default_action_names(act_dim: int) -> list[str]:
    """Names for checkpoints that store none: x, y, z, yaw, gripper per end effector (YuMi: left_,
    right_), x, y, z, gripper for 4-D actions, else a0, a1, ..."""
    if act_dim == 5:
        return list(EE_FIELDS)
    if act_dim == 10:
        return [p + f for p in ("left_", "right_") for f in EE_FIELDS]
    if act_dim == 4:
        return ["x", "y", "z", "gripper"]
    return [f"a{i}" for i in range(act_dim)]


def yaw_of(qx: float, qy: float, qz: float, qw: float) -> float:
    return float(np.arctan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz)))


def current_action(action_names: list[str], obs_names: list[str], obs_data: np.ndarray,
                   ee_poses: np.ndarray, grippers: np.ndarray) -> np.ndarray:
    """The arm's current pose in action coordinates (the centre of the uncertainty sampling).

    Taken from the observation entries named like the actions when all are present (the
    simulator's observations start with them); otherwise from the end-effector poses
    (ee_poses: (n_arms, 7) x, y, z, qx, qy, qz, qw) and grippers, per end effector in the order
    x, y, z, [yaw if the action names have one], gripper, truncated/zero-padded to the action size.
    """
    act_dim = len(action_names)
    index = {n: i for i, n in enumerate(obs_names)}
    data = np.asarray(obs_data, np.float64).reshape(-1)
    if obs_names and all(n in index and index[n] < len(data) for n in action_names):
        return np.array([data[index[n]] for n in action_names])
    poses = np.asarray(ee_poses, np.float64).reshape(-1, 7)
    g = np.zeros(len(poses))
    grippers = np.asarray(grippers, np.float64).reshape(-1)
    g[: min(len(g), len(grippers))] = grippers[: len(g)]
    with_yaw = any(n.endswith("yaw") for n in action_names)
    rows = []
    for k, p in enumerate(poses):
        row = [p[0], p[1], p[2]] + ([yaw_of(*p[3:7])] if with_yaw else []) + [g[k]]
        rows += row
    out = np.zeros(act_dim)
    n = min(act_dim, len(rows))
    out[:n] = rows[:n]
    return out
