"""How little human effort any help gate could need on lift's unseen objects: oracle bounds.

The demo's target (assisted success >= 90 % with <= 30 % of the steps driven by the human) depends
on the simulator as much as on the gate: an unseen object is grasped somewhere else than the
training cube, often a quarter turn away, and the arm turns at most ``max_angular_speed``. This
module measures the best case for that task: a robot that behaves exactly like the training data
(the scripted expert grasping every object like the cube), a human (the scripted expert) who takes
over at step ``s`` and hands back the moment the sub-task the robot cannot do is done (the task's
next milestone: lift's object is grasped), earlier than any score-based hand-back. No gate, score
or threshold is involved. One sweep over ``s`` (every step of the episode, and "never") gives:

- **least human steps**: per episode, the take-over step that needs the fewest human steps and
  still succeeds. A lower bound on the human steps of every gate whose robot is no better than the
  training behaviour, whatever the episode length.
- **fixed step**: the least human fraction when one ``s`` serves every episode.
- **least fraction**: the per-episode choice of ``s`` (or no help) with the least overall fraction at
  ``min_success``. The fraction is a ratio, and this oracle lowers it by making episodes longer: it
  lets the harmless robot hover for tens of steps before the human starts, and gives up on the
  episodes the success rate allows (an unhelped failure adds robot steps and no human steps). Its
  mean episode length shows how much padding the ratio needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

# task -> options of the scripted expert that reproduce the training behaviour (the "robot")
SUPPORTED: dict[str, dict] = {"lift": {"cube_only": True}}
# the training-like robot (cube_only: grasps every object like the cube) is an option of the kinematic
# simulator's expert; the MuJoCo lift expert has no such mode, so the bound stays on the kinematic fixture
BACKEND = "kinematic"
NEVER = 1_000_000  # a take-over step no episode reaches: the robot alone


@dataclass
class SwitchRow:
    switch_step: int
    success_rate: float
    human_steps_mean: float
    episode_steps_mean: float
    human_fraction: float  # sum of human steps / sum of episode steps (like the demo's summary)


@dataclass
class SwitchRuns:
    """Per take-over step (rows) and episode (columns): human steps, episode steps, success."""

    switch_steps: np.ndarray  # (S,)
    human: np.ndarray  # (S, N)
    length: np.ndarray  # (S, N)
    success: np.ndarray  # (S, N) bool

    def rows(self) -> list[SwitchRow]:
        return [SwitchRow(int(s), float(ok.mean()), float(h.mean()), float(n.mean()), float(h.sum() / max(1, n.sum())))
                for s, h, n, ok in zip(self.switch_steps, self.human, self.length, self.success, strict=True)]


@dataclass
class EpisodeChoice:
    """An oracle's choice of one take-over step per episode, and what it gives."""

    human_fraction: float
    success_rate: float
    human_steps_mean: float
    episode_steps_mean: float
    switch_steps: list[int | None]  # per episode; None: the human never drove
    given_up: int  # episodes that fail


def run_switches(task: str = "lift", arm: str = "franka", variant: str = "test", seeds: Iterable[int] = range(30),
                 switch_steps: Iterable[int] | None = None) -> SwitchRuns:
    """Every episode of ``seeds`` run once per take-over step (vectorized over the episodes). Default
    steps: every step of the episode and ``NEVER``."""
    from hitl_sim import make_env, make_expert

    if task not in SUPPORTED:
        raise ValueError(f"effort bound is defined for {sorted(SUPPORTED)}, not {task!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    n = len(seeds)
    if switch_steps is None:
        switch_steps = [*range(make_env(task, arm=arm, num_envs=1, variant=variant, backend=BACKEND).max_steps), NEVER]
    steps = np.asarray(list(switch_steps), np.int64)
    robot, human = make_expert(task, backend=BACKEND, **SUPPORTED[task]), make_expert(task, backend=BACKEND)
    out = SwitchRuns(steps, np.zeros((len(steps), n)), np.zeros((len(steps), n)), np.zeros((len(steps), n), bool))
    for i, s in enumerate(steps):
        env = make_env(task, arm=arm, num_envs=n, variant=variant, seed=0, backend=BACKEND)
        obs = env.reset(np.arange(n), seeds)
        done = np.zeros(n, bool)
        t, at_switch = 0, None
        while not done.all():
            state = env.get_state()
            reached = human.milestones(state)  # the human hands back when this count rises
            if t == s:
                at_switch = reached.copy()
            humans = (t >= s) & (reached <= at_switch) if at_switch is not None else np.zeros(n, bool)
            action = np.where(humans[:, None], human.act(state, obs), robot.act(state, obs))
            out.human[i] += humans & ~done
            obs, info = env.step(action)
            t += 1
            ended = info["done"] & ~done
            out.length[i, ended], out.success[i, ended] = env.t[ended], info["success"][ended]
            done |= info["done"]
    return out


def sweep(task: str = "lift", arm: str = "franka", variant: str = "test", seeds: Iterable[int] = range(30),
          switch_steps: Iterable[int] = range(0, 40, 2)) -> list[SwitchRow]:
    """One row per switch step: every episode of ``seeds`` run with that take-over step."""
    return run_switches(task, arm, variant, seeds, switch_steps).rows()


def bound(rows: list[SwitchRow], min_success: float = 0.9) -> SwitchRow | None:
    """The row with the least human fraction among those at or above ``min_success`` (None if none)."""
    ok = [r for r in rows if r.success_rate >= min_success - 1e-9]
    return min(ok, key=lambda r: r.human_fraction) if ok else None


def _outcome(runs: SwitchRuns, pick: np.ndarray) -> EpisodeChoice:
    cols = np.arange(len(pick))
    h, length, ok = runs.human[pick, cols], runs.length[pick, cols], runs.success[pick, cols]
    steps = [None if h[j] == 0 else int(runs.switch_steps[p]) for j, p in enumerate(pick)]
    return EpisodeChoice(float(h.sum() / max(1, length.sum())), float(ok.mean()), float(h.mean()),
                         float(length.mean()), steps, int(np.count_nonzero(~ok)))


def least_human_steps(runs: SwitchRuns) -> EpisodeChoice | None:
    """Per episode, the successful take-over step with the fewest human steps (ties: the shorter
    episode). None when some episode cannot succeed at any step."""
    if not runs.success.any(0).all():
        return None
    key = np.where(runs.success, runs.human * (runs.length.max() + 1) + runs.length, np.inf)
    return _outcome(runs, key.argmin(0))


def _choose(runs: SwitchRuns, f: float, must_succeed: int) -> tuple[float, np.ndarray]:
    """Minimize sum(human - f * length) with at least ``must_succeed`` successes: (value, option per episode)."""
    cost = runs.human - f * runs.length  # (S, N)
    ok_cost = np.where(runs.success, cost, np.inf)
    fail_cost = np.where(runs.success, np.inf, cost)
    best_ok, best_fail = ok_cost.argmin(0), fail_cost.argmin(0)
    cols = np.arange(cost.shape[1])
    v_ok, v_fail = ok_cost[best_ok, cols], fail_cost[best_fail, cols]
    pick = best_ok.copy()
    no_ok = ~np.isfinite(v_ok)  # these fail whatever the human does
    pick[no_ok] = best_fail[no_ok]
    spare = int(np.count_nonzero(~no_ok)) - must_succeed  # episodes the success rate lets us give up on
    if spare > 0:
        saving = np.where(no_ok, -np.inf, v_ok - v_fail)  # > 0: failing is cheaper
        order = np.argsort(-saving)[:spare]
        order = order[saving[order] > 0]
        pick[order] = best_fail[order]
    return float(cost[pick, cols].sum()), pick


def least_fraction(runs: SwitchRuns, min_success: float = 0.9) -> EpisodeChoice | None:
    """The least overall human fraction over per-episode choices of take-over step, at or above
    ``min_success`` (None if that rate cannot be reached). sum(h)/sum(n) is a ratio, so the choice
    is found by bisection on f (Dinkelbach): f is reachable iff some choice has sum(h - f n) <= 0."""
    n = runs.human.shape[1]
    must = math.ceil(min_success * n - 1e-9)
    if int(runs.success.any(0).sum()) < must:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if _choose(runs, mid, must)[0] <= 0:
            hi = mid
        else:
            lo = mid
    return _outcome(runs, _choose(runs, hi, must)[1])


def effort_bound(task: str = "lift", arm: str = "franka", variant: str = "test", seeds: Iterable[int] = range(30),
                 min_success: float = 0.9) -> dict:
    """The three bounds and the sweep as plain data (JSON-ready)."""
    seeds = list(seeds)
    runs = run_switches(task, arm, variant, seeds)
    rows = runs.rows()
    fixed = bound(rows, min_success)
    fewest, frac = least_human_steps(runs), least_fraction(runs, min_success)
    return {
        "task": task, "arm": arm, "variant": variant, "episodes": len(seeds), "min_success": min_success,
        "fixed_step": None if fixed is None else asdict(fixed),
        "least_human_steps": None if fewest is None else asdict(fewest),
        "least_fraction": None if frac is None else asdict(frac),
        "rows": [asdict(r) for r in rows if r.switch_step < NEVER],
        "never": asdict(rows[-1]) if rows and rows[-1].switch_step >= NEVER else None,
    }
