"""N MuJoCo tasks behind the kinematic ``VecEnv`` API (hitl_sim/core.py): reset/step/observe/get_state.

Robot i has its own generator seeded from (seed, i); ``reset(ids, seeds)`` reseeds; ``reset(ids,
hard=True)`` rebuilds those robots' MuJoCo models first. Robots that are done (success, failure or
timeout) are frozen until ``reset(ids)``: stepping them changes nothing. Stepping here is sequential
in this process; ``hitl_sim.mj.pool.MjPoolVecEnv`` spreads the robots over worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from hitl_sim.arms import ArmProfile
from hitl_sim.core import ClosesOnExit, EpisodeBook, SceneItem, check_actions, reset_targets
from hitl_sim.mj import shelf
from hitl_sim.mj.base import MjTask


class MjVecEnv(EpisodeBook, ClosesOnExit):
    """N robots of one arm on one MuJoCo task."""

    backend = "mujoco"

    def __init__(
        self, make_task: Callable[[], MjTask], arm: ArmProfile, num_envs: int = 1, seed: int = 0, first_robot: int = 0,
        kind: Hashable | None = None,
    ) -> None:
        """first_robot: index of robot 0 in a larger fleet (its generator is seeded from (seed, first_robot)).
        kind: what ``make_task`` builds, for reusing built tasks (hitl_sim/mj/shelf.py); None: never reused."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self._make_task = make_task
        self._kind = kind
        self.tasks = [shelf.take(kind, make_task) for _ in range(num_envs)]
        first = self.tasks[0]
        self.arm = arm
        self.task_name = first.name
        self.variant = first.variant
        self.num_envs = num_envs
        self.n_arms = arm.n_arms
        self.dt = first.dt
        self.max_steps = first.max_steps
        self.action_names = list(first.action_names)
        self.obs_names = list(first.obs_names)
        self.state_names = list(first.state_names)
        self.n_modes = int(first.n_modes)
        self.act_dim = len(self.action_names)
        self.obs_dim = len(self.obs_names)
        self.state_dim = len(self.state_names)
        n = num_envs
        self._init_book(n)
        self._rngs = [np.random.default_rng(np.random.SeedSequence([seed, first_robot + i])) for i in range(n)]
        self.reset()
        self.episode[:] = 0

    def reset(self, ids=None, seeds=None, hard: bool = False) -> np.ndarray:
        """Start new episodes for robots ``ids`` (all by default); ``seeds`` reseeds their generators.

        hard: rebuild the robots' MuJoCo models (a fresh task) before the reset, as after a failure
        that a soft reset might not clear; same episode for the same seed either way.
        """
        ids = reset_targets(ids, seeds, self._rngs)
        for i in ids:
            if hard:
                self.tasks[i].close()
                self.tasks[i] = self._make_task()
            self.tasks[i].reset(self._rngs[i])
            self._start_episode(i)
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        a = check_actions(actions, self.num_envs, self.act_dim)
        for i in np.flatnonzero(~self.done):
            task = self.tasks[i]
            task.apply(a[i])
            success, failed = task.evaluate()
            self.t[i] += 1
            self.success[i] = success
            self.failed[i] = failed and not success
            self.done[i] = success or self.failed[i] or self.t[i] >= self.max_steps
        info = self._step_info()
        return self.observe(), info

    def current_action(self) -> np.ndarray:
        return np.stack([task.current_action() for task in self.tasks])

    def get_state(self) -> np.ndarray:
        return np.stack([task.state() for task in self.tasks]).astype(float)

    def observe(self) -> np.ndarray:
        return np.stack([task.observe() for task in self.tasks]).astype(np.float32)

    def rng(self, i: int) -> np.random.Generator:
        return self._rngs[i]

    def scene(self, i: int = 0) -> list[SceneItem]:
        return self.tasks[i].scene()

    def render(self, i: int = 0, width: int = 320, height: int = 240) -> np.ndarray | None:
        return self.tasks[i].render(width, height)

    def close(self) -> None:
        """Free the tasks (or keep them for the next env of this kind, when the shelf is on)."""
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            shelf.give_back(self._kind, task)
