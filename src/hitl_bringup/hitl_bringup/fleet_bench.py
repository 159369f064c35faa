"""Fleet benchmark without ROS: N robots, M simulated operators, the Fleet-DAgger allocator, ROHE (IIFL Eq. 3).

One synchronous loop per (method, task, seed), in timesteps: every tick each robot's policy proposes
an action and (for gated methods) an uncertainty score; robots that failed request a hard reset;
``hitl_teleop.fleet.FleetAllocator`` assigns the M operators (locks t_T, t_R); a robot with an
operator follows that operator's scripted expert (its own style: operators are heterogeneous), a
failed robot is reset after t_R ticks of its operator's time. Successes and timeouts reset at once,
without a human. Policies are trained once from the same mixed-style demonstrations and are not
updated during the run (no online learning: the comparison is of the gates and the allocation).

Methods (see METHODS): IIFL (EBM + Jeffreys), IFL (explicit ensemble + variance), IIFL-R (EBM,
random priorities with IIFL's measured request rate: the same human budget), diffusion + denoising
gate, BC and IBC (no humans except hard resets).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from hitl_teleop.fleet import FleetAllocator, FleetConfig, RobotRequest, rohe

METHODS = ("IIFL", "IFL", "IIFL-R", "diffusion", "BC", "IBC")
HUMAN_GATED = {"IIFL": "jeffreys", "IFL": "ensemble_variance", "IIFL-R": "random", "diffusion": "denoising"}
POLICY_OF = {"IIFL": "ebm", "IFL": "ensemble", "IIFL-R": "ebm", "diffusion": "diffusion", "BC": "bc", "IBC": "ebm"}


@dataclass
class BenchSizes:
    """Everything that sets the cost; the defaults are what ``make fleet-bench`` runs (docs/fleet.md)."""

    n_robots: int = 100
    n_operators: int = 10
    steps: int = 2000
    min_intervention: int = 5  # t_T (ticks)
    hard_reset_time: int = 5  # t_R (ticks)
    demos: int = 120
    train_steps: int = 1500
    ebm_train_steps: int = 600
    ebm_train_langevin: int = 10
    ebm_hidden: tuple[int, ...] = (64, 64)
    ebm_act_samples: int = 48
    ebm_act_iterations: int = 4
    jeffreys_samples: int = 8
    jeffreys_iterations: int = 4
    ensemble_hidden: tuple[int, ...] = (128, 128)
    diffusion_hidden: tuple[int, ...] = (128, 128, 128)
    denoising_points: int = 8  # 16 took 191 ms per 100-robot tick, 8 fit the 100 ms (docs/fleet.md)
    threshold_quantile: float = 0.95
    operator_noise: float = 0.002


# ------------------------------------------------------------------------------------------- envs
def make_env(task: str, n: int, seed: int, variant: str = "train"):
    """MuJoCo task when registered in hitl_sim.mj (push, nav, ...), else the kinematic hitl_sim task."""
    from hitl_sim.mj import MJ_TASKS

    if task in MJ_TASKS:
        from hitl_sim.arms import load_arm_profile
        from hitl_sim.mj import task_class
        from hitl_sim.mj.vec import MjVecEnv

        arm = load_arm_profile("franka")
        cls = task_class(task)
        return MjVecEnv(lambda: cls(arm, variant), arm, n, seed=seed)
    import hitl_sim

    return hitl_sim.make_env(task, "franka", num_envs=n, variant=variant, seed=seed)


def make_expert(task: str, style: int | None, noise: float, seed: int):
    from hitl_sim.mj import MJ_TASKS

    if task in MJ_TASKS:
        from hitl_sim.mj import expert_class

        return expert_class(task)(style=style, noise=noise, seed=seed)
    import hitl_sim

    return hitl_sim.make_expert(task, style=style, noise=noise, seed=seed)


def simulator_of(task: str) -> str:
    from hitl_sim.mj import MJ_TASKS

    return "mujoco" if task in MJ_TASKS else "kinematic"


def collect(task: str, episodes: int, seed: int, n_envs: int = 32):
    """Mixed-style demonstrations (the expert follows each episode's hidden mode): EpisodeDataset."""
    from hitl_core.data import EpisodeDataset

    env = make_env(task, n_envs, seed)
    expert = make_expert(task, None, 0.0, seed)
    obs = env.reset()
    bufs: list[dict[str, list]] = [{"obs": [], "action": [], "current": []} for _ in range(n_envs)]
    done_eps: list[dict[str, np.ndarray]] = []
    while len(done_eps) < episodes:
        cur = env.current_action()
        act = expert.act(env.get_state(), obs)
        for i in range(n_envs):
            bufs[i]["obs"].append(obs[i])
            bufs[i]["action"].append(act[i])
            bufs[i]["current"].append(cur[i])
        obs, info = env.step(act)
        for i in np.flatnonzero(info["done"]):
            if info["success"][i]:
                done_eps.append({k: np.asarray(v) for k, v in bufs[i].items()})
            bufs[i] = {"obs": [], "action": [], "current": []}
            obs = env.reset([i])
    eps = done_eps[:episodes]
    ends = np.cumsum([len(e["obs"]) for e in eps])
    cat = {k: np.concatenate([e[k] for e in eps]) for k in ("obs", "action", "current")}
    return EpisodeDataset(obs=cat["obs"], action=cat["action"], current=cat["current"], episode_ends=ends,
                          meta={"task": task, "obs_names": list(env.obs_names),
                                "action_names": list(env.action_names)})


# --------------------------------------------------------------------------------------- policies
def train_policies(task: str, sizes: BenchSizes, cache: Path, seed: int = 0,
                   log: Callable[[str], None] = print) -> dict:
    """{kind: policy} for ebm, ensemble, bc, diffusion; trained once per task and cached in ``cache``."""
    from hitl_policy.models.diffusion import DiffusionPolicy
    from hitl_policy.models.ebm import EBMPolicy
    from hitl_policy.models.ensemble import EnsemblePolicy

    cache.mkdir(parents=True, exist_ok=True)
    specs = {
        "ebm": (EBMPolicy, dict(hidden=list(sizes.ebm_hidden), train_langevin_iterations=sizes.ebm_train_langevin,
                                inference_counter_examples=sizes.ebm_act_samples,
                                langevin_iterations=sizes.ebm_act_iterations, seed=seed)),
        "ensemble": (EnsemblePolicy, dict(hidden=list(sizes.ensemble_hidden), n_members=5, seed=seed)),
        "bc": (EnsemblePolicy, dict(hidden=list(sizes.ensemble_hidden), n_members=1, seed=seed)),
        "diffusion": (DiffusionPolicy, dict(hidden=list(sizes.diffusion_hidden), n_obs=1, horizon=4, n_action=1,
                                            seed=seed)),
    }
    data = None
    out = {}
    for kind, (cls, cfg) in specs.items():
        path = cache / f"{task}_{kind}_s{seed}.pt"
        if path.exists():
            out[kind] = cls.load(path)
            continue
        if data is None:
            t0 = time.perf_counter()
            data = collect(task, sizes.demos, seed=1000 + seed)
            log(f"[fleet-bench] {task}: {sizes.demos} demos, {data.n_steps} steps ({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        pol = cls.create(data.obs_dim, data.act_dim, **cfg)
        steps, batch = (sizes.ebm_train_steps, 128) if kind == "ebm" else (sizes.train_steps, 256)
        pol.fit(data, steps, batch_size=batch, progress=False)
        pol.save(path)
        out[kind] = pol
        log(f"[fleet-bench] {task}: trained {kind} ({steps} steps, {time.perf_counter() - t0:.1f} s)")
    if data is None:
        data = collect(task, 20, seed=1000 + seed)
    out["calibration_obs"] = data.obs
    out["calibration_current"] = data.current
    return out


class Gate:
    """Policy + uncertainty for one method: ``act(obs)`` (N, act_dim), ``scores(obs, current)`` (N,)."""

    def __init__(self, method: str, policies: dict, sizes: BenchSizes, seed: int) -> None:
        self.method = method
        self.policy = policies[POLICY_OF[method]]
        self.kind = HUMAN_GATED.get(method)
        self.rng = np.random.default_rng(seed)
        self.estimator = None
        if self.kind == "jeffreys":
            from hitl_policy.uncertainty.jeffreys import JeffreysEstimator

            self.estimator = JeffreysEstimator(self.policy, n_samples=sizes.jeffreys_samples,
                                               iterations=sizes.jeffreys_iterations, seed=seed, return_points=False)
        elif self.kind == "ensemble_variance":
            from hitl_policy.uncertainty.ensemble_variance import EnsembleVarianceEstimator

            self.estimator = EnsembleVarianceEstimator(self.policy)
        elif self.kind == "denoising":
            from hitl_policy.uncertainty.denoising import PaperDenoisingVectorEstimator

            self.estimator = PaperDenoisingVectorEstimator(self.policy, n_points=sizes.denoising_points, seed=seed)
        self.threshold = np.inf  # no humans unless a gate sets one

    def act(self, obs: np.ndarray) -> np.ndarray:
        chunk = self.policy.predict_chunk(obs[:, None, :])
        return np.asarray(chunk)[:, 0, :]

    def scores(self, obs: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self.kind is None:
            return np.zeros(len(obs))
        if self.kind == "random":
            return self.rng.uniform(0, 1, len(obs))
        if self.kind == "ensemble_variance":
            return self.estimator.scores(obs[:, None, :])[0]
        if self.kind == "jeffreys":
            return self.estimator.divergence(obs[:, None, :])[0]
        return np.array([r.score for r in self.estimator.estimate(obs[:, None, :], current)])

    def calibrate(self, obs: np.ndarray, current: np.ndarray, quantile: float, batch: int = 100) -> None:
        """Threshold = the quantile of the scores on demonstration states (in-distribution)."""
        if self.kind in (None, "random"):
            return
        idx = self.rng.choice(len(obs), min(len(obs), 4 * batch), replace=False)
        s = np.concatenate([self.scores(obs[idx[k:k + batch]], current[idx[k:k + batch]])
                            for k in range(0, len(idx), batch)])
        self.threshold = float(np.quantile(s, quantile))


# ------------------------------------------------------------------------------------------- loop
@dataclass
class RunResult:
    method: str
    task: str
    seed: int
    successes: int = 0
    hard_resets: int = 0
    human_actions: int = 0
    idle_time: int = 0
    rohe: float = 0.0
    wall_s: float = 0.0
    request_rate: float = 0.0
    threshold: float = 0.0
    timeouts: int = 0
    ms_per_tick: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def run_fleet(method: str, task: str, policies: dict, sizes: BenchSizes, seed: int,
              request_rate: float | None = None, progress: bool = True) -> RunResult:
    """One fleet run; ``request_rate`` (IIFL-R): the fraction of robot-ticks that request help."""
    torch.manual_seed(seed)
    n, m = sizes.n_robots, sizes.n_operators
    env = make_env(task, n, seed)
    ops = [f"op_{j}" for j in range(m)]
    experts = {op: make_expert(task, j % 2, sizes.operator_noise, seed * 100 + j) for j, op in enumerate(ops)}
    gate = Gate(method, policies, sizes, seed)
    t0 = time.perf_counter()
    gate.calibrate(policies["calibration_obs"], policies["calibration_current"], sizes.threshold_quantile)
    if gate.kind == "random":
        gate.threshold = 1.0 - float(request_rate if request_rate is not None else 0.1)
    humans = method not in ("BC", "IBC")
    alloc = FleetAllocator(FleetConfig(ops, threshold=gate.threshold if humans else np.inf,
                                       min_intervention=sizes.min_intervention, hard_reset_time=sizes.hard_reset_time))
    res = RunResult(method, task, seed, threshold=float(gate.threshold) if np.isfinite(gate.threshold) else -1.0)
    rewards = np.zeros((sizes.steps, n), np.float32)
    busy = np.zeros((sizes.steps, n), bool)
    reset_progress = np.zeros(n, np.int64)
    ids = [f"r{i}" for i in range(n)]
    t_act = t_score = t_env = 0.0
    requests_total = 0
    obs = env.reset()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sizes.steps, desc=f"{task} {method} s{seed}", leave=False)
    for t in range(sizes.steps):
        cur = env.current_action()
        a0 = time.perf_counter()
        actions = gate.act(obs)
        a1 = time.perf_counter()
        scores = gate.scores(obs, cur) if humans else np.zeros(n)
        a2 = time.perf_counter()
        failed = env.failed.copy()
        reqs = [RobotRequest(ids[i], float(scores[i]), bool(failed[i])) for i in range(n)]
        requests_total += int(np.sum(failed | (scores > gate.threshold)))
        allocation = alloc.update(reqs, t)
        res.idle_time += len(allocation.waiting)
        state = env.get_state()
        for a in allocation.assignments:
            i = int(a.robot_id[1:])
            busy[t, i] = True
            if failed[i]:
                reset_progress[i] += 1
            else:
                actions[i] = experts[a.operator_id].act(state[i:i + 1], obs[i:i + 1])[0]
        actions = np.where(np.isfinite(actions), actions, cur)
        a3 = time.perf_counter()
        obs, info = env.step(actions)
        newly_failed = info["failed"] & ~failed
        res.hard_resets += int(newly_failed.sum())
        success = info["success"]
        rewards[t, success] = 1.0
        res.successes += int(success.sum())
        res.timeouts += int(info["timeout"].sum())
        to_reset = np.flatnonzero(success | info["timeout"] | (failed & (reset_progress >= sizes.hard_reset_time)))
        if len(to_reset):
            reset_progress[to_reset] = 0
            obs = env.reset(to_reset)
        t_act += a1 - a0
        t_score += a2 - a1
        t_env += time.perf_counter() - a3
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    res.human_actions = int(busy.sum())
    res.rohe = rohe(rewards, busy, m)
    res.wall_s = time.perf_counter() - t0
    res.request_rate = requests_total / (n * sizes.steps)
    res.ms_per_tick = {"policy": 1e3 * t_act / sizes.steps, "uncertainty": 1e3 * t_score / sizes.steps,
                       "env": 1e3 * t_env / sizes.steps}
    if hasattr(env, "close"):
        env.close()
    return res
