"""The contract every MuJoCo task implements: one robot in one scene, stepped at the arm's control rate.

A task owns its MuJoCo model (robosuite, Metaworld or an MJCF written here) and turns the policy's
absolute end-effector targets ``[x, y, z, yaw, gripper]`` per end effector (the project's action
convention, see docs/sim.md) into whatever its controller takes. ``MjVecEnv`` (hitl_sim/mj/vec.py)
batches N tasks behind the same API as the kinematic ``hitl_sim.core.VecEnv``, so collection,
deployment, evaluation and the nodes do not care which simulator runs.

Observations hold only what a perception stack could see (poses, gripper opening, an occlusion
flag): never an object's identity, a grasp hint or a hidden mode. ``state()`` is the full hidden
state the scripted experts (and simulated operators in other processes, through ``sim/state``)
act on; it must determine the expert's action on its own (experts keep no memory).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from hitl_sim.arms import ArmProfile
from hitl_sim.core import SceneItem


class MjTask(ABC):
    """One MuJoCo robot + scene. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str] = ""
    variants: ClassVar[tuple[str, ...]] = ("train", "test")
    n_modes: ClassVar[int] = 1  # styles of the expert / hidden modes (drawer index, face pair, ...)
    arms: ClassVar[tuple[str, ...]] = ("franka",)  # arm profiles this task supports
    # arm profile -> why the task does not run on it (cannot reach, cannot grasp, expert below the bar);
    # bench/sim.py reports these reasons in place of a success rate
    unsupported: ClassVar[dict[str, str]] = {}
    # True where the task comes with its own arm and runs on nothing else (Metaworld's Sawyer): callers
    # that sweep tasks for one arm run such a task on its own arm (hitl_bringup.sim_backend.arm_for)
    own_arm_only: ClassVar[bool] = False

    # set by __init__ of subclasses
    obs_names: list[str]
    state_names: list[str]
    action_names: list[str]
    dt: float
    max_steps: int

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        if variant not in self.variants:
            raise ValueError(f"task {self.name!r} has no variant {variant!r}; expected one of {self.variants}")
        if arm.name not in self.arms:
            why = self.unsupported.get(arm.name)
            raise ValueError(f"task {self.name!r} runs on arms {self.arms}, not {arm.name!r}"
                             + (f": {why}" if why else ""))
        self.arm = arm
        self.variant = variant

    @abstractmethod
    def reset(self, rng: np.random.Generator) -> None:
        """Start a new episode; every random draw comes from ``rng``."""

    @abstractmethod
    def apply(self, action: np.ndarray) -> None:
        """One control tick toward the absolute target ``action`` (finite, shape (act_dim,), checked by the caller)."""

    @abstractmethod
    def observe(self) -> np.ndarray:
        """(obs_dim,) float32: the end effectors' ``current_action()`` first, then the task's part."""

    @abstractmethod
    def state(self) -> np.ndarray:
        """(state_dim,) float64: everything the expert needs (see ``state_names``)."""

    @abstractmethod
    def current_action(self) -> np.ndarray:
        """(act_dim,): the arm's pose and gripper now, in action coordinates."""

    @abstractmethod
    def evaluate(self) -> tuple[bool, bool]:
        """(success, failed): failed means a hard reset is needed."""

    def scene(self) -> list[SceneItem]:
        """Things to draw (RViz markers), from the MuJoCo geometry; empty by default."""
        return []

    def render(self, width: int = 320, height: int = 240) -> np.ndarray | None:
        """(H, W, 3) uint8 from an offscreen camera, or None where the task cannot render."""
        return None

    def close(self) -> None:
        """Release the MuJoCo model and any renderer (nothing to do by default)."""
        return None


class MjExpert(ABC):
    """Scripted expert from the state only (no memory), so it can take over from any state."""

    n_modes: ClassVar[int] = 1

    def __init__(self, style: int | None = None, noise: float = 0.0, seed: int = 0, **opts) -> None:
        if style is not None and not 0 <= style < self.n_modes:
            raise ValueError(f"{type(self).__name__} has {self.n_modes} styles; got style={style}")
        self.style = style
        self.noise = float(noise)
        self.opts = opts
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        """(N, act_dim) absolute targets for a (N, state_dim) batch of states."""

    def milestones(self, state: np.ndarray) -> np.ndarray | None:
        """(N,) sub-goals reached (e.g. 1 = object grasped), None if the task has none."""
        return None


class PerStateExpert(MjExpert):
    """An expert written for one state at a time (``_act_one``); ``act`` applies it to each row."""

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        state = np.atleast_2d(np.asarray(state, float))
        return np.array([self._act_one(row) for row in state])

    @abstractmethod
    def _act_one(self, row: np.ndarray) -> np.ndarray:
        """(act_dim,) target for one state row."""
