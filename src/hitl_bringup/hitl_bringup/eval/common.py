"""Shared pieces of the evaluation (and of ``hitl_demo``): simulator access (``sim`` = the backend,
hitl_bringup/sim_backend.py), rollouts, scoring, calibration, the base-model cache, mean and spread."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from hitl_bringup.sim_backend import DEFAULT_SIM, collect, make_env, make_expert  # noqa: F401 (re-exported)

# built MuJoCo tasks a worker keeps for its next rollouts (hitl_sim/mj/shelf.py): two batches of
# num_envs, e.g. one task's train and test variants (~190 MB each for robosuite's lift)
SHELF_TASKS = 20


def setup_worker() -> None:
    """One torch thread per job's process (the jobs run side by side on a small machine). Whether built
    MuJoCo tasks are reused between rollouts is the runner's choice (``eval.cli.run``: for its whole run,
    in worker processes and in the calling process alike), not a job's."""
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def keep_built_tasks_in_worker() -> None:
    """A worker process's initializer: reuse built MuJoCo tasks (building one costs ~1.1 s, resetting it
    ~5 ms; hitl_sim/mj/shelf.py) for as long as the worker lives."""
    from hitl_sim.mj.shelf import keep_built_tasks

    keep_built_tasks(SHELF_TASKS)


def operator(reaction_ticks: int, seed: int, human_gated: bool = False):
    from hitl_teleop.sim_operator import SimOperatorConfig

    return SimOperatorConfig(reaction_delay_ticks=reaction_ticks, human_gated=human_gated,
                             takeover_rule="wrong_way", seed=seed)


def gate_config(task: str, threshold: float, reaction_ticks: int, score_every: int | None = None):
    """The deployed gating of ``task`` (task YAML via hitl_bringup.gating) at ``threshold``."""
    from hitl_bringup.sim_loop import GateConfig

    over = {} if score_every is None else {"score_every": score_every}
    return GateConfig.for_task(task, threshold=threshold, reaction_ticks=reaction_ticks, **over)


def autonomous(policy, task: str, variant: str, n: int, seed: int, *, arm: str = "franka", num_envs: int = 10,
               sim: str = DEFAULT_SIM):
    """The policy alone for ``n`` episodes: the DeployResult (dataset, per-episode metrics)."""
    from hitl_bringup.sim_loop import deploy

    with make_env(task, arm, min(num_envs, n), variant, seed, sim) as env:
        return deploy(env, policy, n, seed=seed)


def first_steps(ds, n: int):
    """The first ``n`` steps of a dataset (the last episode truncated)."""
    from hitl_core.data import EpisodeDataset

    if n >= ds.n_steps:
        return ds
    ends = ds.episode_ends[ds.episode_ends < n]
    ends = np.concatenate([ends, [n]]).astype(np.int64)
    k = len(ends)
    return EpisodeDataset(obs=ds.obs[:n], action=ds.action[:n], current=ds.current[:n], episode_ends=ends,
                          source=ds.source[:n], robot_action=ds.robot_action[:n], success=ds.success[:k],
                          expert_id=ds.expert_id[:k], meta=dict(ds.meta))


def score_steps(estimator, n_obs: int, ds, steps: np.ndarray | None = None, batch: int = 32) -> np.ndarray:
    """The estimator's score at ``steps`` of a dataset (all steps by default): each step's
    observation history (``n_obs``, padded at the episode start) and current pose."""
    obs_idx, _ = ds.window_indices(n_obs, 1)
    steps = np.arange(len(obs_idx)) if steps is None else np.asarray(steps, np.int64)
    scores: list[float] = []
    for s in range(0, len(steps), batch):
        idx = steps[s:s + batch]
        scores += [r.score for r in estimator.estimate(ds.obs[obs_idx[idx]], ds.current[idx])]
    return np.asarray(scores, float)


def calibration_sample(ds, max_states: int, seed: int) -> np.ndarray:
    """Up to ``max_states`` step indices of a dataset, drawn without replacement."""
    n = ds.n_steps
    return np.sort(np.random.default_rng(seed).choice(n, min(max_states, n), replace=False))


def calibrate(scores: np.ndarray, rate: float) -> float:
    """The threshold that flags ``rate`` of the nominal scores."""
    from hitl_policy.uncertainty.calibration import calibrate_threshold

    thr = float(calibrate_threshold(np.asarray(scores, float), rate))
    if not np.isfinite(thr):
        raise RuntimeError(f"calibration gave threshold {thr} from {len(scores)} scores")
    return thr


# ------------------------------------------------------------------------------ cached base models
def cache_key(**parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def base_paths(cache: Path, task: str, key: str) -> dict[str, Path]:
    stem = cache / f"{task}_{key}"
    return {"demos": stem.with_name(stem.name + "_demos.npz"), "diffusion": stem.with_name(stem.name + "_diffusion.pt"),
            "ensemble": stem.with_name(stem.name + "_ensemble.pt"), "ebm": stem.with_name(stem.name + "_ebm.pt")}


def load_base(paths: dict[str, Path], kinds: tuple[str, ...] = ("diffusion",)) -> dict:
    """The cached demos and models (``kinds``) of one task."""
    from hitl_core.data import EpisodeDataset
    from hitl_policy.registry import load_policy

    out: dict = {"demos": EpisodeDataset.load(paths["demos"])}
    for k in kinds:
        out[k] = load_policy(paths[k])
    return out


def mean_std(vals) -> dict:
    a = np.asarray([v for v in vals if v is not None and np.isfinite(v)], float)
    if not len(a):
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}


def summarize_by(rows: list[dict], group: str, keys: tuple[str, ...], groups) -> list[dict]:
    """One row per value of ``group`` (in the order of ``groups``): each metric in ``keys`` as
    ``mean_std`` over the seeds, and its value per seed."""
    return [{group: g, **{k: mean_std([r[k] for r in rows if r[group] == g]) for k in keys},
             "per_seed": {k: {str(r["seed"]): r[k] for r in rows if r[group] == g} for k in keys}}
            for g in groups]
