"""Synthetic 2-D fork task with known structure, for tests and for choosing estimator settings.

A point starts near (0, 0), moves up a straight corridor to the fork at y = FORK_Y, then goes to
one of two goals (left/right) with equal probability. Observation = current position (2-D);
action = absolute next position; current = current position (action coordinates).
"""

from __future__ import annotations

import numpy as np
from hitl_core.data import EpisodeDataset

FORK_Y = 1.0
GOAL_Y = 2.0
GOAL_X = 0.6
STEP = 0.05


def fork_trajectory(branch: int, rng: np.random.Generator, noise: float = 0.005) -> np.ndarray:
    """Positions (T, 2) of one demo; branch -1 = left, +1 = right."""
    x0 = rng.normal(0.0, 0.01)
    ys = np.arange(0.0, FORK_Y, STEP)
    corridor = np.stack([np.full_like(ys, x0), ys], 1)
    n_branch = int(np.hypot(GOAL_X, GOAL_Y - FORK_Y) / STEP)
    s = np.linspace(0, 1, n_branch + 1)[1:, None]
    start = np.array([x0, FORK_Y])
    goal = np.array([branch * GOAL_X, GOAL_Y])
    branch_pts = start + s * (goal - start)
    traj = np.concatenate([corridor, start[None], branch_pts])
    return traj + rng.normal(0, noise, traj.shape)


def make_fork_dataset(n_episodes: int = 100, seed: int = 0) -> EpisodeDataset:
    """Equal numbers of left and right demos (expert_id 0 = left, 1 = right)."""
    rng = np.random.default_rng(seed)
    obs, act, ends, expert = [], [], [], []
    total = 0
    for e in range(n_episodes):
        branch = -1 if e % 2 == 0 else 1
        traj = fork_trajectory(branch, rng)
        obs.append(traj[:-1])
        act.append(traj[1:])
        total += len(traj) - 1
        ends.append(total)
        expert.append(0 if branch < 0 else 1)
    o = np.concatenate(obs).astype(np.float32)
    return EpisodeDataset(obs=o, action=np.concatenate(act), current=o.copy(), episode_ends=np.array(ends),
                          expert_id=np.array(expert), meta={"task": "fork2d", "obs_names": ["x", "y"],
                                                            "action_names": ["x", "y"], "dt": 0.1})


def probe_states() -> dict[str, np.ndarray]:
    """Named (M, 2) states: at the fork, in the corridor, and far outside the data."""
    return {
        "fork": np.array([[0.0, FORK_Y - 0.02], [0.0, FORK_Y], [0.01, FORK_Y + 0.01]], np.float32),
        "corridor": np.array([[0.0, 0.3], [0.0, 0.5], [0.0, 0.7]], np.float32),
        "far": np.array([[2.5, -1.5], [-3.0, 3.5], [3.0, 1.0]], np.float32),
    }
