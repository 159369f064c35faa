"""In-process, vectorized human-in-the-loop deployment: N simulated robots, no DDS.

Per tick, for every robot: the policy re-plans every ``n_action`` steps (and right after a
hand-back), the estimator scores the observation history, and one :class:`hitl_teleop.arbiter.Arbiter`
per robot decides who commands the arm (the same state machine the ROS arbiter node runs, fed the
same inputs with simulated stamps). One :class:`hitl_teleop.sim_operator.SimulatedOperator` per
robot answers help requests after its reaction delay (or takes over at will, human-gated) and
drives with the scripted expert until the arbiter hands control back.

The arbiter decides *who* acts; the simulator executes that source's full action
(``[x, y, z, yaw, gripper]`` per end effector: the arbiter's own command carries no yaw and is
used only for the decision), or holds the current pose while PAUSED.

Returns the recorded :class:`EpisodeDataset` (source per step, the policy's proposal in
``robot_action``) and per-episode metrics: success, human steps, help requests, paused steps,
episode length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, EpisodeDataset


@dataclass
class GateConfig:
    """threshold None: never gate (autonomous run, the arbiter is bypassed). The arbiter fields'
    defaults are ArbiterConfig's; :meth:`for_task` takes them from the task YAML, as the deploy graph
    does (hitl_bringup/gating.py). gating '': derived from the inputs (robot, human or both)."""

    threshold: float | None = None
    release_ratio: float = 0.8
    release_ticks: int = 3
    min_intervention_s: float = 0.0   # the arbiter never uses less than one executed chunk
    reaction_ticks: int = 2           # default operator's delay (ticks) before answering a help request
    score_every: int = 1              # score every n-th tick (the estimator is the costly part)
    rearm_ratio: float = 0.0          # ArbiterConfig.rearm_ratio (accepting an operator's early hand-back)
    gating: str = ""

    @classmethod
    def for_task(cls, task: str, threshold: float | None = None, reaction_ticks: int = 2,
                 **overrides) -> GateConfig:
        """The task YAML's gating (what ``build_graph`` gives the arbiter node) with ``overrides``
        (gating keys or ``score_every``); ``threshold`` None or negative: the YAML's. A task without a
        YAML (evaluation-only tasks) gets the ArbiterConfig defaults."""
        from hitl_bringup.gating import load_gating

        g = load_gating(task, overrides, threshold=threshold, missing_ok=True)
        return cls(threshold=g.threshold, release_ratio=g.release_ratio, release_ticks=g.release_ticks,
                   min_intervention_s=g.min_intervention_s, reaction_ticks=reaction_ticks,
                   score_every=g.score_every, rearm_ratio=g.rearm_ratio, gating=g.gating)

    def arbiter_config(self, robot_gated: bool = True, human_gated: bool = False, **extra):
        """The ArbiterConfig the in-process loop runs (``extra``: robot_id, timeouts)."""
        from hitl_teleop.arbiter import ArbiterConfig

        gating = self.gating or ("both" if robot_gated and human_gated else ("robot" if robot_gated else "human"))
        return ArbiterConfig(threshold=self.threshold if robot_gated else None, release_ratio=self.release_ratio,
                             release_ticks=self.release_ticks, min_intervention_s=self.min_intervention_s,
                             gating=gating, rearm_ratio=self.rearm_ratio, **extra)


@dataclass
class EpisodeMetrics:
    robot: int
    seed: int
    success: bool
    failed: bool
    length: int
    human_steps: int
    paused_steps: int
    help_requests: int


@dataclass
class DeployResult:
    """dataset: the recorded steps; episodes: per-episode metrics (sorted by seed); scores: (N,) the
    gate's score at each recorded step (NaN where it was not scored), None without a gate."""

    dataset: EpisodeDataset
    episodes: list[EpisodeMetrics] = field(default_factory=list)
    scores: np.ndarray | None = None

    def summary(self) -> dict:
        if not self.episodes:
            return {"episodes": 0}
        e = self.episodes
        return {
            "episodes": len(e),
            "success_rate": float(np.mean([x.success for x in e])),
            "failure_rate": float(np.mean([x.failed for x in e])),
            "episode_length": float(np.mean([x.length for x in e])),
            "human_steps": float(np.mean([x.human_steps for x in e])),
            "paused_steps": float(np.mean([x.paused_steps for x in e])),
            "help_requests": float(np.mean([x.help_requests for x in e])),
            "human_fraction": float(sum(x.human_steps for x in e) / max(1, sum(x.length for x in e))),
        }

    def metrics_dicts(self) -> list[dict]:
        return [asdict(m) for m in self.episodes]


class _Recorder:
    """Per-robot step buffers, turned into episodes when an episode ends."""

    def __init__(self, n: int) -> None:
        self.buf: list[dict[str, list]] = [self._empty() for _ in range(n)]
        self.episodes: list[dict[str, np.ndarray]] = []

    @staticmethod
    def _empty() -> dict[str, list]:
        return {k: [] for k in ("obs", "action", "current", "source", "robot_action", "score")}

    def add(self, i: int, **row) -> None:
        for k, v in row.items():
            self.buf[i][k].append(v)

    def close(self, i: int, success: bool, expert_id: int) -> None:
        b = self.buf[i]
        if b["obs"]:
            self.episodes.append({**{k: np.asarray(v) for k, v in b.items()},
                                  "success": success, "expert_id": expert_id})
        self.buf[i] = self._empty()

    def dataset(self, meta: dict) -> EpisodeDataset:
        eps = self.episodes
        if not eps:
            raise ValueError("deployment recorded no steps")
        return EpisodeDataset(
            obs=np.concatenate([e["obs"] for e in eps]), action=np.concatenate([e["action"] for e in eps]),
            current=np.concatenate([e["current"] for e in eps]),
            episode_ends=np.cumsum([len(e["obs"]) for e in eps]),
            source=np.concatenate([e["source"] for e in eps]),
            robot_action=np.concatenate([e["robot_action"] for e in eps]),
            success=np.array([e["success"] for e in eps]), expert_id=np.array([e["expert_id"] for e in eps]),
            meta=meta)

    def scores(self) -> np.ndarray:
        return np.concatenate([e["score"] for e in self.episodes]).astype(np.float64)


class ExpertDeviationGate:
    """A simulated human's judgement as a gate: how far the robot's next target is from the scripted
    expert's, in tolerances: max over end effectors of (position distance / pos_tol, yaw difference
    / yaw_tol, 2 if the gripper commands disagree about closing). Score > 1: the robot is about to
    do something the expert would not, which is when a watching human steps in (IWR, MILE).
    """

    name = "expert_deviation"
    needs_context = True

    def __init__(self, expert, n_arms: int = 1, pos_tol: float = 0.005, yaw_tol: float = 0.15) -> None:
        self.expert, self.n_arms, self.pos_tol, self.yaw_tol = expert, n_arms, pos_tol, yaw_tol

    def estimate(self, obs_hist: np.ndarray, current: np.ndarray, proposed: np.ndarray | None = None,
                 state: np.ndarray | None = None) -> list:
        from hitl_policy.uncertainty.base import UncertaintyResult

        if proposed is None or state is None:
            raise ValueError("ExpertDeviationGate needs the robot's proposed actions and the simulator state")
        b = len(state)
        want = np.asarray(self.expert.act(state, obs_hist[:, -1]), float).reshape(b, self.n_arms, 5)
        prop = np.asarray(proposed, float).reshape(b, self.n_arms, 5)
        pos = np.linalg.norm(want[..., :3] - prop[..., :3], axis=-1) / self.pos_tol
        # yaw difference modulo a half turn (a parallel gripper is symmetric)
        dyaw = np.abs(np.pi / 2 - np.mod(np.pi / 2 - (want[..., 3] - prop[..., 3]), np.pi))
        grip = 2.0 * ((want[..., 4] > 0.5) != (prop[..., 4] > 0.5))
        score = np.maximum(np.maximum(pos, dyaw / self.yaw_tol), grip).max(-1)
        return [UncertaintyResult(float(v), self.name) for v in score]


def _arbiter_row(action: np.ndarray, n_arms: int) -> np.ndarray:
    """[x, y, z, yaw, gripper] per arm -> the arbiter's [x, y, z, gripper] per arm (leading dims kept)."""
    a = np.asarray(action, float).reshape(*action.shape[:-1], n_arms, 5)
    return a[..., [0, 1, 2, 4]].reshape(*action.shape[:-1], n_arms * 4)


def deploy(env, policy, n_episodes: int, estimator=None, gate: GateConfig | None = None, expert=None,
           seed: int = 0, progress: bool = False, desc: str = "deploy", operator=None,
           arm_profile=None) -> DeployResult:
    """Run ``n_episodes`` episodes on the env's robots (episode k is seeded with ``seed * 100003 + k``; the
    policy's and the estimator's sampling restart from ``seed`` too: hitl_policy/reseed.py).

    estimator: an UncertaintyEstimator (``estimate(obs_hist, current)``) or None (no robot gating);
    an estimator with ``needs_context = True`` is called as ``estimate(obs_hist, current,
    proposed=..., state=...)`` (oracle gates in the evaluation). expert: the operator's policy
    (``act(state, obs)``); operator: a ``hitl_teleop.sim_operator.SimOperatorConfig`` (reaction delay,
    human-gated take-over rule, budget); one SimulatedOperator per robot.
    """
    from hitl_policy.reseed import reseed_sampling
    from hitl_teleop.arbiter import (
        MODE_ABSOLUTE,
        MODE_DELTA,
        ActionChunkIn,
        Arbiter,
        EpisodeEventIn,
        EpisodeEventType,
        ObservationIn,
        Source,
        TeleopIn,
        UncertaintyIn,
    )
    from hitl_teleop.sim_operator import ControlView, SimOperatorConfig, SimulatedOperator

    gate = gate or GateConfig()
    robot_gated = gate.threshold is not None and estimator is not None
    op_cfg = operator or SimOperatorConfig(reaction_delay_ticks=gate.reaction_ticks)
    human_gated = bool(op_cfg.human_gated)
    use_arbiter = robot_gated or human_gated
    if use_arbiter and expert is None:
        raise ValueError("a gated deployment needs an expert to stand in for the operator")
    if n_episodes < 1:
        raise ValueError("n_episodes must be >= 1")
    reseed_sampling(seed, policy, estimator)  # draws depend on this deployment's seed, not on earlier ones
    n, dt, n_arms = env.num_envs, float(env.dt), env.n_arms
    arm_profile = arm_profile if arm_profile is not None else env.arm
    h, n_act = policy.horizon, policy.n_action
    rec = _Recorder(n)
    metrics: list[EpisodeMetrics] = []
    counters = np.zeros((n, 3), np.int64)  # human steps, paused steps, help requests
    ep_seed = np.zeros(n, np.int64)
    active = np.zeros(n, bool)

    first = np.arange(min(n, n_episodes))
    seeds = seed * 100003 + first
    obs = env.reset(first, seeds)
    ep_seed[first] = seeds
    active[first] = True
    started = len(first)
    if len(first) < n and hasattr(env, "done"):
        env.done[len(first):] = True  # robots without an episode stay frozen (VecEnv contract)
    hist = np.repeat(obs[:, None], policy.n_obs, 1)
    plan = np.zeros((n, h, env.act_dim), np.float32)
    plan_pos = np.full(n, n_act)
    score = np.zeros(n)
    prev_help = np.zeros(n, bool)
    views = [ControlView(int(Source.POLICY)) for _ in range(n)]

    def new_arbiter(i: int, now: float = 0.0):
        cfg = gate.arbiter_config(robot_gated, human_gated, robot_id=f"robot_{i}", policy_timeout_s=10 * dt,
                                  observation_timeout_s=10 * dt, device_timeout_s=10 * dt)
        arb = Arbiter(cfg, arm_profile)
        arb.on_episode_event(EpisodeEventIn(now, int(env.episode[i]), EpisodeEventType.START))
        arb.tick(now)  # apply the start event now, so it does not clear the first score of the episode
        return arb

    def new_operator(i: int):
        cfg = SimOperatorConfig(**{**op_cfg.__dict__, "operator_id": f"operator_{i}",
                                   "seed": op_cfg.seed * 1000 + i})
        return SimulatedOperator(getattr(env, "task_name", ""), cfg, expert=expert)

    arbiters = [new_arbiter(i) if use_arbiter else None for i in range(n)]
    operators = [new_operator(i) if use_arbiter else None for i in range(n)]
    tick = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_episodes, desc=desc, leave=False, dynamic_ncols=True)

    while active.any():
        now = tick * dt
        cur = env.current_action()
        need = active & (plan_pos >= n_act)
        if need.any():
            plan[need] = np.asarray(policy.predict_chunk(hist[need]), np.float32)
            plan_pos[need] = 0
        ids = np.flatnonzero(active)
        proposed = plan[np.arange(n), np.minimum(plan_pos, h - 1)]
        actions = cur.astype(np.float64).copy()
        source = np.full(n, SOURCE_ROBOT, np.int8)
        if use_arbiter:
            state = env.get_state()
            scored = robot_gated and tick % gate.score_every == 0
            if scored:
                if getattr(estimator, "needs_context", False):
                    res = estimator.estimate(hist[ids], cur[ids], proposed=proposed[ids], state=state[ids])
                else:
                    res = estimator.estimate(hist[ids], cur[ids])
                score[ids] = [r.score for r in res]
            for i in ids:
                arb, op = arbiters[i], operators[i]
                pos = cur[i].reshape(n_arms, 5)
                arb.on_observation(ObservationIn(now, pos[:, :3].copy(), pos[:, 4].copy(),
                                                 episode=int(env.episode[i]), step=int(env.t[i])))
                rest = plan[i, min(plan_pos[i], h - 1):]
                arb.on_action_chunk(ActionChunkIn(now, _arbiter_row(rest, n_arms), n_execute=n_act, dt=dt))
                if scored:
                    arb.on_uncertainty(UncertaintyIn(now, float(score[i])))
                # the operator reacts to the control state it saw after the previous tick
                o = op.step(views[i], state[i], obs[i])
                if o.engaged and o.action is not None:
                    e = np.asarray(o.action, float).reshape(n_arms, 5)
                    arb.on_teleop(TeleopIn(now, operator_id=op.config.operator_id, engaged=True,
                                           take_over=o.take_over, mode=MODE_ABSOLUTE,
                                           position=e[0, :3].copy(), gripper=float(e[0, 4]), device="sim"))
                else:
                    arb.on_teleop(TeleopIn(now, operator_id=op.config.operator_id, engaged=False,
                                           take_over=o.take_over, mode=MODE_DELTA, device="sim"))
                out = arb.tick(now)
                src, helping = out.state.source, out.state.help_requested
                views[i] = ControlView(int(src), bool(helping), int(env.episode[i]), out.state.operator_id)
                if helping and not prev_help[i]:
                    counters[i, 2] += 1
                prev_help[i] = helping
                if src == Source.HUMAN and not out.command.hold and o.action is not None:
                    actions[i] = o.action
                    source[i] = SOURCE_HUMAN
                    counters[i, 0] += 1
                elif src == Source.POLICY and not out.command.hold:
                    actions[i] = proposed[i]
                else:
                    source[i] = SOURCE_PAUSED
                    counters[i, 1] += 1
        else:
            actions[ids] = proposed[ids]
        plan_pos[ids] += 1  # like the policy node: it plans on its own schedule whoever drives
        for i in ids:
            rec.add(i, obs=hist[i, -1].copy(), action=actions[i].astype(np.float32),
                    current=cur[i].astype(np.float32), source=source[i], robot_action=proposed[i].copy(),
                    score=score[i] if use_arbiter and scored else np.nan)
        obs, info = env.step(actions)
        hist = np.concatenate([hist[:, 1:], obs[:, None]], 1)
        tick += 1
        for i in np.flatnonzero(active & info["done"]):
            metrics.append(EpisodeMetrics(int(i), int(ep_seed[i]), bool(info["success"][i]),
                                          bool(info["failed"][i]), int(env.t[i]), int(counters[i, 0]),
                                          int(counters[i, 1]), int(counters[i, 2])))
            rec.close(i, bool(info["success"][i]), -1)
            counters[i] = 0
            if bar is not None:
                bar.update(1)
            if started < n_episodes:
                s = seed * 100003 + started
                o_new = env.reset([i], [s])
                obs[i], ep_seed[i], hist[i] = o_new[i], s, o_new[i]
                started += 1
                plan_pos[i] = n_act
                prev_help[i] = False
                if use_arbiter:  # fresh arbiter and operator per episode: a clean start
                    arbiters[i], operators[i] = new_arbiter(i, now), new_operator(i)
                    views[i] = ControlView(int(Source.POLICY), episode=int(env.episode[i]))
            else:
                active[i] = False
    if bar is not None:
        bar.close()
    meta = {"task": getattr(env, "task_name", ""), "obs_names": list(getattr(env, "obs_names", [])),
            "action_names": list(getattr(env, "action_names", [])), "dt": dt, "source": "sim_loop.deploy"}
    metrics.sort(key=lambda m: m.seed)
    return DeployResult(rec.dataset(meta), metrics, rec.scores() if robot_gated else None)
