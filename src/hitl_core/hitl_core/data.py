"""Episode datasets: what demos, deployments and bags turn into, and what policies train from.

Layout (like diffusion_policy's replay buffer): per-step arrays concatenated over episodes plus
``episode_ends``. Stored as a single ``.npz`` with a JSON ``meta`` entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hitl_core.control_source import ControlSource

# Step labels (int8 arrays): the control source of each step; RESET steps are stored as PAUSED.
SOURCE_ROBOT = int(ControlSource.POLICY)
SOURCE_HUMAN = int(ControlSource.HUMAN)
SOURCE_PAUSED = int(ControlSource.PAUSED)

FORMAT_VERSION = 1


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupt or inconsistent."""


@dataclass
class EpisodeDataset:
    """Per-step arrays of N steps over E episodes.

    obs:      (N, obs_dim) float32 policy observation (what the policy sees, no hidden state)
    action:   (N, act_dim) float32 executed absolute action (task space + gripper)
    current:  (N, act_dim) float32 the arm's current pose in action coordinates at that step
              (centre for the denoising-vector sampling)
    source:   (N,) int8 who was in control: SOURCE_ROBOT / SOURCE_HUMAN / SOURCE_PAUSED
    robot_action: (N, act_dim) float32 what the robot policy proposed (NaN where unknown)
    episode_ends: (E,) int64 exclusive end index of each episode
    success:  (E,) bool, expert_id: (E,) int16 (operator / expert / mode id, -1 unknown)
    meta:     task, arm, obs_names, action_names, dt, ... (JSON-serializable)
    """

    obs: np.ndarray
    action: np.ndarray
    current: np.ndarray
    episode_ends: np.ndarray
    source: np.ndarray | None = None
    robot_action: np.ndarray | None = None
    success: np.ndarray | None = None
    expert_id: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.obs)
        self.obs = np.asarray(self.obs, np.float32).reshape(n, -1)
        self.action = np.asarray(self.action, np.float32).reshape(n, -1)
        self.current = np.asarray(self.current, np.float32).reshape(n, -1)
        self.episode_ends = np.asarray(self.episode_ends, np.int64)
        e = len(self.episode_ends)
        if self.source is None:
            self.source = np.zeros(n, np.int8)
        if self.robot_action is None:
            self.robot_action = np.full_like(self.action, np.nan)
        if self.success is None:
            self.success = np.ones(e, bool)
        if self.expert_id is None:
            self.expert_id = np.full(e, -1, np.int16)
        self.source = np.asarray(self.source, np.int8)
        self.robot_action = np.asarray(self.robot_action, np.float32).reshape(n, -1)
        self.success = np.asarray(self.success, bool)
        self.expert_id = np.asarray(self.expert_id, np.int16)
        self.validate()

    # ----------------------------------------------------------------- structure
    def validate(self) -> None:
        n = len(self.obs)
        for name in ("action", "current", "source", "robot_action"):
            if len(getattr(self, name)) != n:
                raise DatasetError(f"dataset field {name!r} has {len(getattr(self, name))} rows, obs has {n}")
        if self.action.shape[1] != self.current.shape[1]:
            raise DatasetError("action and current must have the same dimension")
        ends = self.episode_ends
        if len(ends) and (ends[-1] != n or np.any(np.diff(ends) <= 0) or ends[0] <= 0):
            raise DatasetError(f"episode_ends {ends[:5]}... inconsistent with {n} steps")
        if len(self.success) != len(ends) or len(self.expert_id) != len(ends):
            raise DatasetError("success/expert_id must have one entry per episode")

    @property
    def n_steps(self) -> int:
        return len(self.obs)

    @property
    def n_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def obs_dim(self) -> int:
        return self.obs.shape[1]

    @property
    def act_dim(self) -> int:
        return self.action.shape[1]

    def episode_starts(self) -> np.ndarray:
        return np.concatenate([[0], self.episode_ends[:-1]]).astype(np.int64)

    def episode_slices(self) -> list[slice]:
        return [slice(int(s), int(e)) for s, e in zip(self.episode_starts(), self.episode_ends)]

    def episode_index(self) -> np.ndarray:
        """(N,) episode number of each step."""
        return np.repeat(np.arange(self.n_episodes), np.diff(np.concatenate([[0], self.episode_ends])))

    def select_episodes(self, episodes: np.ndarray | list[int]) -> EpisodeDataset:
        sl = self.episode_slices()
        idx = [np.arange(sl[i].start, sl[i].stop) for i in episodes]
        rows = np.concatenate(idx) if idx else np.zeros(0, np.int64)
        lens = np.array([len(i) for i in idx], np.int64)
        ep = np.asarray(list(episodes), np.int64)
        return EpisodeDataset(
            obs=self.obs[rows], action=self.action[rows], current=self.current[rows],
            episode_ends=np.cumsum(lens), source=self.source[rows], robot_action=self.robot_action[rows],
            success=self.success[ep], expert_id=self.expert_id[ep], meta=dict(self.meta),
        )

    @staticmethod
    def concatenate(parts: list[EpisodeDataset]) -> EpisodeDataset:
        parts = [p for p in parts if p.n_steps]
        if not parts:
            raise DatasetError("nothing to concatenate")
        offsets = np.cumsum([0] + [p.n_steps for p in parts[:-1]])
        return EpisodeDataset(
            obs=np.concatenate([p.obs for p in parts]),
            action=np.concatenate([p.action for p in parts]),
            current=np.concatenate([p.current for p in parts]),
            episode_ends=np.concatenate([p.episode_ends + o for p, o in zip(parts, offsets)]),
            source=np.concatenate([p.source for p in parts]),
            robot_action=np.concatenate([p.robot_action for p in parts]),
            success=np.concatenate([p.success for p in parts]),
            expert_id=np.concatenate([p.expert_id for p in parts]),
            meta=dict(parts[0].meta),
        )

    # ------------------------------------------------------------------- windows
    def window_indices(self, n_obs: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Index arrays for (obs history, action chunk) training windows.

        Returns obs_idx (M, n_obs) and act_idx (M, horizon) into the step arrays, one window per
        step; indices are clamped to the episode (first obs / last action repeated), as
        diffusion_policy pads its sequences.
        """
        obs_rows, act_rows = [], []
        for sl in self.episode_slices():
            t = np.arange(sl.start, sl.stop)
            o = t[:, None] + np.arange(-n_obs + 1, 1)[None, :]
            a = t[:, None] + np.arange(horizon)[None, :]
            obs_rows.append(np.clip(o, sl.start, sl.stop - 1))
            act_rows.append(np.clip(a, sl.start, sl.stop - 1))
        if not obs_rows:
            return np.zeros((0, n_obs), np.int64), np.zeros((0, horizon), np.int64)
        return np.concatenate(obs_rows), np.concatenate(act_rows)

    # ----------------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp, obs=self.obs, action=self.action, current=self.current, episode_ends=self.episode_ends,
            source=self.source, robot_action=self.robot_action, success=self.success,
            expert_id=self.expert_id,
            meta=np.frombuffer(json.dumps({**self.meta, "format_version": FORMAT_VERSION}).encode(), np.uint8),
        )
        tmp.replace(path)  # atomic: a killed writer never leaves a half-written dataset
        return path

    @classmethod
    def load(cls, path: str | Path) -> EpisodeDataset:
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"{path}: dataset file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile/zlib/ValueError: all mean a corrupt file
            raise DatasetError(f"{path}: not a readable dataset ({type(exc).__name__}: {exc})") from exc
        required = {"obs", "action", "current", "episode_ends"}
        if missing := required - arrays.keys():
            raise DatasetError(f"{path}: missing arrays {sorted(missing)}")
        meta = json.loads(bytes(arrays.pop("meta", np.zeros(0, np.uint8))).decode() or "{}")
        version = meta.pop("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise DatasetError(f"{path}: dataset format {version}, this code reads {FORMAT_VERSION}")
        return cls(meta=meta, **arrays)
