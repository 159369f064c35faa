"""Simulated human operator: answers help requests after a reaction delay, or takes over at will,
and then drives with the task's scripted expert (absolute targets). Pure logic, no ROS.

One `step` per control tick. It sees what a remote human would see (the arbiter's control state)
plus the simulator's full state (to run the scripted expert), and returns what its device sends:
engaged (deadman), take_over (button) and an absolute action row in hitl_sim's layout
[x, y, z, yaw, gripper] per end effector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np
from hitl_core.control_source import ControlSource

EE_DIM = 5  # hitl_sim action/state layout per end effector: x, y, z, yaw, gripper
TAKEOVER_RULES = ("none", "random", "wrong_way")
HANDBACK_RULES = ("score", "milestone")


class Expert(Protocol):
    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray: ...


@dataclass
class SimOperatorConfig:
    operator_id: str = "sim_operator"
    reaction_delay_ticks: int = 3  # ticks between seeing a request (or deciding to take over) and acting
    human_gated: bool = False  # take over at will (under `takeover_rule`)
    takeover_rule: str = "wrong_way"  # "random": with takeover_prob per tick; "wrong_way": robot moves away
    takeover_prob: float = 0.02  #   from where the expert would go for wrong_way_ticks ticks
    wrong_way_ticks: int = 3
    wrong_way_cos: float = 0.0  # cosine(robot motion, expert direction) below this counts as wrong
    min_motion: float = 1e-3  # metres per tick: slower motion is not judged
    takeover_ticks: int = 10  # a human-gated take-over lasts at least this many ticks
    max_human_steps: int = 0  # budget per episode (ticks in control); 0: unlimited
    style: int | None = None  # heterogeneous experts (hitl_sim style index)
    noise: float = 0.0
    seed: int = 0
    # robot-gated help ends: "score" when the arbiter hands back (score low); "milestone" also when
    # the operator has done what the robot could not (the task's next milestone, lift: object held),
    # by pressing and releasing the take-over button (the arbiter's rearm_ratio decides what follows)
    handback: str = "score"
    backend: str = "auto"  # simulator of the expert (hitl_sim.resolve_backend): match the sim arm node's

    def __post_init__(self) -> None:
        if self.handback not in HANDBACK_RULES:
            raise ValueError(f"handback must be one of {HANDBACK_RULES}, got {self.handback!r}")
        if self.takeover_rule not in TAKEOVER_RULES:
            raise ValueError(f"takeover_rule must be one of {TAKEOVER_RULES}, got {self.takeover_rule!r}")
        if self.reaction_delay_ticks < 0 or self.takeover_ticks < 0 or self.max_human_steps < 0:
            raise ValueError("reaction_delay_ticks, takeover_ticks and max_human_steps must be >= 0")
        if not 0.0 <= self.takeover_prob <= 1.0:
            raise ValueError(f"takeover_prob must be in [0, 1], got {self.takeover_prob}")


@dataclass
class ControlView:
    """The part of the arbiter's ControlState the operator reacts to."""

    source: int
    help_requested: bool = False
    episode: int = 0
    operator_id: str = ""


@dataclass
class OperatorOutput:
    engaged: bool
    take_over: bool
    action: np.ndarray | None  # absolute action row (act_dim) while driving, else None
    phase: str


class Phase(Enum):
    IDLE = "idle"
    REACTING = "reacting"
    DRIVING = "driving"
    HANDING_BACK = "handing_back"  # take-over button pressed this tick, released on the next


class SimulatedOperator:
    """Scripted stand-in for a remote human (one robot at a time)."""

    def __init__(
        self,
        task: str,
        config: SimOperatorConfig | None = None,
        expert: Expert | None = None,
        takeover_rule: Callable[[np.ndarray], bool] | None = None,
    ):
        self.task = task
        self.config = config or SimOperatorConfig()
        if expert is None:
            try:
                from hitl_sim import make_expert
            except ImportError as exc:
                raise RuntimeError("hitl_sim.make_expert is not available; pass expert= explicitly") from exc
            expert = make_expert(
                task, style=self.config.style, noise=self.config.noise, seed=self.config.seed,
                backend=self.config.backend,
            )
        self.expert = expert
        self.custom_rule = takeover_rule
        self.rng = np.random.default_rng(self.config.seed)
        self.phase = Phase.IDLE
        self.gated = False  # current engagement is human-gated (take-over button held)
        self.human_steps = 0  # ticks in control this episode (budget)
        self.total_human_steps = 0
        self._episode: int | None = None
        self._count = 0
        self._takeover_steps = 0
        self._seen_human = False
        self._wrong = 0
        self._prev_ee: np.ndarray | None = None
        self._milestone_at_start: int | None = None

    # ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """New episode: idle, budget refilled."""
        self.phase, self.gated = Phase.IDLE, False
        self.human_steps, self._count, self._wrong = 0, 0, 0
        self._seen_human, self._prev_ee = False, None
        self._milestone_at_start = None

    def budget_left(self) -> bool:
        return self.config.max_human_steps == 0 or self.human_steps < self.config.max_human_steps

    def expert_action(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        s = np.asarray(state, float).reshape(1, -1)
        o = None if obs is None else np.asarray(obs, float).reshape(1, -1)
        return np.asarray(self.expert.act(s, o), float).reshape(-1)

    def wants_takeover(self, state: np.ndarray, expert_action: np.ndarray | None) -> bool:
        """The human-gated rule: custom callable, a coin flip per tick, or 'the robot heads the wrong way'."""
        cfg = self.config
        if self.custom_rule is not None:
            return bool(self.custom_rule(state))
        if cfg.takeover_rule == "random":
            return bool(self.rng.random() < cfg.takeover_prob)
        if cfg.takeover_rule == "wrong_way" and expert_action is not None:
            return self._wrong >= cfg.wrong_way_ticks
        return False

    def _track_direction(self, state: np.ndarray, expert_action: np.ndarray) -> None:
        n_arms = expert_action.size // EE_DIM
        ee = np.asarray(state, float).reshape(-1)[-EE_DIM * n_arms :].reshape(n_arms, EE_DIM)[:, :3]
        goal = expert_action.reshape(n_arms, EE_DIM)[:, :3]
        if self._prev_ee is not None:
            motion, want = ee - self._prev_ee, goal - self._prev_ee
            m, w = np.linalg.norm(motion, axis=1), np.linalg.norm(want, axis=1)
            judged = (m > self.config.min_motion) & (w > 1e-6)
            if judged.any():
                cos = np.sum(motion * want, axis=1)[judged] / (m[judged] * w[judged])
                self._wrong = self._wrong + 1 if np.min(cos) < self.config.wrong_way_cos else 0
        self._prev_ee = ee

    # ------------------------------------------------------------------------------------
    def step(self, control: ControlView, state: np.ndarray, obs: np.ndarray | None = None) -> OperatorOutput:
        cfg = self.config
        if self._episode is None or control.episode != self._episode:
            self._episode = control.episode
            self.reset()
        if self.phase == Phase.HANDING_BACK:  # release the button: the arbiter hands back on this edge
            self.phase, self._milestone_at_start = Phase.IDLE, None
            return OperatorOutput(False, False, None, self.phase.value)
        needs_expert = self.phase == Phase.DRIVING or (
            cfg.human_gated and cfg.takeover_rule == "wrong_way" and self.custom_rule is None
        )
        action = self.expert_action(state, obs) if needs_expert else None
        if action is not None and self.phase != Phase.DRIVING:
            self._track_direction(state, action)

        if control.source == ControlSource.HUMAN and self.phase == Phase.DRIVING:
            self._seen_human = True
            self._takeover_steps += 1
            self.human_steps += 1
            self.total_human_steps += 1

        if self.phase == Phase.IDLE:
            if not self.budget_left():
                pass
            elif control.help_requested and control.source == ControlSource.PAUSED:
                self._begin_reacting(gated=False)
            elif cfg.human_gated and control.source == ControlSource.POLICY and self.wants_takeover(state, action):
                self._begin_reacting(gated=True)
        if self.phase == Phase.REACTING:
            still_needed = self.gated or control.help_requested
            if control.source == ControlSource.RESET or not still_needed:
                self.phase = Phase.IDLE
            elif self._count >= cfg.reaction_delay_ticks:
                self.phase, self._seen_human, self._takeover_steps = Phase.DRIVING, False, 0
                self._milestone_at_start = None if self.gated else self._milestone(state)
            else:
                self._count += 1
        elif self.phase == Phase.DRIVING and self._should_release(control):
            self.phase, self.gated, self._wrong, self._prev_ee = Phase.IDLE, False, 0, None

        if self.phase != Phase.DRIVING:
            return OperatorOutput(False, False, None, self.phase.value)
        if action is None:
            action = self.expert_action(state, obs)
        if self._milestone_reached(control, state):
            self.phase = Phase.HANDING_BACK
            return OperatorOutput(True, True, action, self.phase.value)
        return OperatorOutput(True, self.gated, action, self.phase.value)

    def _milestone(self, state: np.ndarray) -> int | None:
        fn = getattr(self.expert, "milestones", None)
        m = None if fn is None else fn(np.asarray(state, float).reshape(1, -1))
        return None if m is None else int(np.asarray(m).reshape(-1)[0])

    def _milestone_reached(self, control: ControlView, state: np.ndarray) -> bool:
        """handback="milestone": the robot-gated help being given has reached the task's next milestone."""
        if self.config.handback != "milestone" or self.gated or self._milestone_at_start is None:
            return False
        if control.source != ControlSource.HUMAN:
            return False
        now = self._milestone(state)
        return now is not None and now > self._milestone_at_start

    def _begin_reacting(self, gated: bool) -> None:
        self.phase, self.gated, self._count = Phase.REACTING, gated, 0

    def _should_release(self, control: ControlView) -> bool:
        if not self.budget_left() or control.source == ControlSource.RESET:
            return True
        if self.gated:
            return self._takeover_steps >= self.config.takeover_ticks
        # robot-gated: hand back once the arbiter returned control to the policy
        return control.source == ControlSource.POLICY and (self._seen_human or not control.help_requested)
