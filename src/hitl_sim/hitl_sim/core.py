"""Vectorized kinematic arm simulator: N robots of one arm profile running one task.

Each end effector is a point with a yaw (top-down gripper) and a gripper opening. Actions are
absolute targets ``[x, y, z, yaw, gripper]`` per end effector (YuMi: left then right); the arm
moves toward them limited by the profile's linear/angular speed and clipped to its workspace.
Tasks (``hitl_sim.tasks``) add the objects and their quasi-static interactions.

Robots that are done (success, failure or timeout) are frozen until ``reset(ids)``: stepping them
changes nothing, so a batch can be stepped until every robot has finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_sim.arms import ArmProfile

EE_FIELDS = ("x", "y", "z", "yaw", "gripper")
EE_DIM = len(EE_FIELDS)
GRIPPER_RATE = 0.34  # gripper opening change per tick (0 open .. 1 closed): ~3 ticks to close


def wrap(a: np.ndarray) -> np.ndarray:
    """Angle to (-pi, pi]."""
    return np.pi - np.mod(np.pi - a, 2 * np.pi)


def wrap_half(a: np.ndarray) -> np.ndarray:
    """Angle to (-pi/2, pi/2]: a parallel gripper is symmetric under a half turn."""
    return np.pi / 2 - np.mod(np.pi / 2 - a, np.pi)


def ee_prefixes(n_arms: int) -> list[str]:
    return (
        [""]
        if n_arms == 1
        else ["left_", "right_"][:n_arms]
        if n_arms == 2
        else [f"ee{i}_" for i in range(n_arms)]
    )


def ee_names(n_arms: int) -> list[str]:
    return [p + f for p in ee_prefixes(n_arms) for f in EE_FIELDS]


class Layout:
    """Named column blocks of a 2-D array (state or observation)."""

    def __init__(self, fields: tuple[tuple[str, int], ...] | list[tuple[str, int]]):
        self.fields = list(fields)
        self.slices: dict[str, slice] = {}
        start = 0
        for name, width in fields:
            self.slices[name] = slice(start, start + width)
            start += width
        self.dim = start

    def view(self, arr: np.ndarray, name: str) -> np.ndarray:
        """(N, width) view (width-1 blocks come back as (N,))."""
        sl = self.slices[name]
        return arr[:, sl.start] if sl.stop - sl.start == 1 else arr[:, sl]

    def names(self) -> list[str]:
        out = []
        for name, width in self.fields:
            out += [name] if width == 1 else [f"{name}_{i}" for i in range(width)]
        return out


@dataclass
class SceneItem:
    """One thing to draw (RViz marker): shape is 'box', 'cylinder' or 'sphere'; size (3,) full extents."""

    name: str
    shape: str
    pos: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    color: tuple[float, float, float, float] = (0.6, 0.6, 0.6, 1.0)


class ClosesOnExit:
    """``with make_env(...) as env:`` closes the env when the block ends.

    A MuJoCo robot holds ~100-250 MB inside reference cycles (robosuite's), which Python frees only at
    its next full garbage collection: an evaluation worker that built envs without closing them grew
    to 11 GB and was killed. ``close()`` frees them at once."""

    def close(self) -> None:
        """Nothing to free (subclasses that hold resources override it)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EpisodeBook:
    """Per-robot episode bookkeeping of every VecEnv (VecEnv here, hitl_sim/mj/vec.py, hitl_sim/mj/pool.py):
    step count, outcome flags and episode number."""

    FIELDS = ("t", "success", "failed", "done", "episode")

    def _init_book(self, n: int) -> None:
        self.t = np.zeros(n, np.int64)
        self.success = np.zeros(n, bool)
        self.failed = np.zeros(n, bool)
        self.done = np.zeros(n, bool)
        self.episode = np.zeros(n, np.int64)

    def _start_episode(self, i: int) -> None:
        self.episode[i] += 1
        self.t[i] = 0
        self.success[i] = self.failed[i] = self.done[i] = False

    def _step_info(self) -> dict[str, np.ndarray]:
        """The ``info`` dict of a step: copies of the outcome flags and step counts, and the timeouts."""
        return {
            "success": self.success.copy(),
            "failed": self.failed.copy(),
            "done": self.done.copy(),
            "timeout": self.done & ~self.success & ~self.failed,
            "t": self.t.copy(),
        }


class VecEnv(EpisodeBook, ClosesOnExit):
    """N robots of one arm profile on one task. See the package docs for the API contract."""

    backend = "kinematic"

    def __init__(self, task, arm: ArmProfile, num_envs: int = 1, variant: str = "train", seed: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if variant not in task.variants:
            raise ValueError(
                f"task {task.name!r} has no variant {variant!r}; expected one of {task.variants}"
            )
        self.task = task
        self.arm = arm
        self.task_name = task.name
        self.variant = variant
        self.num_envs = num_envs
        self.n_arms = arm.n_arms
        self.dt = arm.dt
        self.max_steps = task.max_steps
        self.n_modes = int(task.n_modes)
        self.act_dim = EE_DIM * self.n_arms
        self.action_names = ee_names(self.n_arms)
        self.obs_names = ee_names(self.n_arms) + task.obs_layout.names()
        self.state_names = task.state_layout.names() + [
            "ee_" + n if self.n_arms == 1 else n for n in ee_names(self.n_arms)
        ]
        self.obs_dim = len(self.obs_names)
        self.state_dim = len(self.state_names)
        self._ws_min, self._ws_max = arm.workspace_min, arm.workspace_max
        n = num_envs
        self.ee_pos = np.zeros((n, self.n_arms, 3))
        self.ee_yaw = np.zeros((n, self.n_arms))
        self.gripper = np.zeros((n, self.n_arms))
        self.ee_prev = np.zeros((n, self.n_arms, 3))
        self.grip_prev = np.zeros((n, self.n_arms))
        self.ts = np.zeros((n, task.state_layout.dim))
        self._init_book(n)
        self._rngs = [np.random.default_rng(np.random.SeedSequence([seed, i])) for i in range(n)]
        self.reset()
        self.episode[:] = 0

    # ---------------------------------------------------------------- episodes
    def reset(self, ids=None, seeds=None, hard: bool = False) -> np.ndarray:
        """Start new episodes for robots ``ids`` (all by default); ``seeds`` reseeds their generators.

        hard: accepted for the MuJoCo API (hitl_sim/mj/vec.py); a kinematic reset always rebuilds the state.
        """
        ids = reset_targets(ids, seeds, self._rngs)
        for i in ids:
            rng = self._rngs[i]
            self.ts[i] = self.task.sample(rng, self.variant)
            ee = self.task.initial_ee(self.ts[i], self.arm)
            self.ee_pos[i], self.ee_yaw[i], self.gripper[i] = ee[:, :3], ee[:, 3], ee[:, 4]
            self._start_episode(i)
        self.ee_prev[ids] = self.ee_pos[ids]
        self.grip_prev[ids] = self.gripper[ids]
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        a = check_actions(actions, self.num_envs, self.act_dim)
        live = ~self.done
        saved = (self.ee_pos.copy(), self.ee_yaw.copy(), self.gripper.copy(), self.ts.copy())
        self.ee_prev[:] = self.ee_pos
        self.grip_prev[:] = self.gripper
        self._move_arm(a.reshape(self.num_envs, self.n_arms, EE_DIM))
        self.task.physics(self)
        self.ee_pos[:] = np.clip(self.ee_pos, self._ws_min, self._ws_max)
        if not live.all():  # frozen robots keep their state
            d = ~live
            self.ee_pos[d], self.ee_yaw[d], self.gripper[d], self.ts[d] = (s[d] for s in saved)
        success, failed = self.task.evaluate(self)
        self.t[live] += 1
        self.success[live] = success[live]
        self.failed[live] = failed[live] & ~success[live]
        self.done[live] = self.success[live] | self.failed[live] | (self.t[live] >= self.max_steps)
        info = self._step_info()
        return self.observe(), info

    def _move_arm(self, a: np.ndarray) -> None:
        target = np.clip(a[..., :3], self._ws_min, self._ws_max)
        d = target - self.ee_pos
        dist = np.linalg.norm(d, axis=-1, keepdims=True)
        scale = np.minimum(1.0, self.arm.max_step() / np.maximum(dist, 1e-12))
        self.ee_pos += d * scale
        max_rot = self.arm.max_angular_speed * self.dt
        self.ee_yaw = wrap(self.ee_yaw + np.clip(wrap(a[..., 3] - self.ee_yaw), -max_rot, max_rot))
        cmd = np.clip(a[..., 4], 0.0, 1.0)
        self.gripper += np.clip(cmd - self.gripper, -GRIPPER_RATE, GRIPPER_RATE)

    # ------------------------------------------------------------------- views
    def current_action(self) -> np.ndarray:
        """(N, act_dim): the arm's current pose and gripper in action coordinates."""
        ee = np.concatenate([self.ee_pos, self.ee_yaw[..., None], self.gripper[..., None]], -1)
        return ee.reshape(self.num_envs, self.act_dim)

    def get_state(self) -> np.ndarray:
        """(N, state_dim) full hidden state: task state then the end effectors (see ``state_names``)."""
        return np.concatenate([self.ts, self.current_action()], 1)

    def observe(self) -> np.ndarray:
        return np.concatenate([self.current_action(), self.task.observe(self)], 1).astype(np.float32)

    def rng(self, i: int) -> np.random.Generator:
        return self._rngs[i]

    def scene(self, i: int = 0) -> list[SceneItem]:
        """Things to draw for robot ``i`` (table, objects, goals); grippers are drawn by the caller."""
        return self.task.scene(self.ts[i])


def split_state(state: np.ndarray, task_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Task part (N, task_dim) and end effectors (N, n_arms, 5) of a state batch."""
    state = np.atleast_2d(np.asarray(state, float))
    rest = state.shape[1] - task_dim
    if rest <= 0 or rest % EE_DIM:
        raise ValueError(f"state has {state.shape[1]} columns; expected {task_dim} + 5 per end effector")
    return state[:, :task_dim], state[:, task_dim:].reshape(len(state), -1, EE_DIM)


def check_actions(actions, num_envs: int, act_dim: int) -> np.ndarray:
    """``actions`` as a finite (num_envs, act_dim) float array, or a ValueError that says what is wrong."""
    a = np.asarray(actions, float)
    if a.shape != (num_envs, act_dim):
        raise ValueError(f"actions must have shape ({num_envs}, {act_dim}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("actions contain NaN or inf")
    return a


def check_reset_ids(ids, seeds, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The robot ids a reset of ``n`` robots applies to (all by default) and their seeds, checked."""
    ids = np.arange(n) if ids is None else np.atleast_1d(np.asarray(ids, np.int64))
    if seeds is not None:
        seeds = np.atleast_1d(np.asarray(seeds, np.int64))
        if len(seeds) != len(ids):
            raise ValueError(f"got {len(seeds)} seeds for {len(ids)} robots")
    for i in ids:
        if not 0 <= i < n:
            raise ValueError(f"robot id {i} out of range 0..{n - 1}")
    return ids, seeds


def reset_targets(ids, seeds, rngs: list[np.random.Generator]) -> np.ndarray:
    """The robot ids a reset applies to (all by default), checked; ``seeds`` reseeds their generators."""
    ids, seeds = check_reset_ids(ids, seeds, len(rngs))
    if seeds is not None:
        for i, s in zip(ids, seeds):
            rngs[i] = np.random.default_rng(int(s))
    return ids
