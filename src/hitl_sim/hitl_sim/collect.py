"""Scripted-expert demo collection into an EpisodeDataset, and the ``hitl_collect`` CLI."""

from __future__ import annotations

import argparse
import sys

import numpy as np
from hitl_core.data import SOURCE_HUMAN, EpisodeDataset

from hitl_sim import make_env, make_expert, resolve_backend
from hitl_sim.mj import MJ_TASKS
from hitl_sim.tasks import TASKS, task_class


def _mode_reader(env, expert, backend: str):
    """() -> (N,) the mode each robot's expert follows now (drawer, push goal, face pair; 0 if unimodal).

    Kinematic: the expert's ``mode`` of the task state. MuJoCo: an expert's ``mode(state)`` if it has
    one, else a ``mode`` state column, else the fixed style, else 0.
    """
    if backend == "kinematic":
        dim = task_class(env.task_name).layout().dim
        return lambda: expert.mode(env.get_state()[:, :dim])
    if callable(getattr(expert, "mode", None)):
        return lambda: np.asarray(expert.mode(env.get_state()), np.int64)
    if "mode" in env.state_names:
        col = env.state_names.index("mode")
        return lambda: np.rint(env.get_state()[:, col]).astype(np.int64)
    style = getattr(expert, "style", None)
    return lambda: np.full(env.num_envs, 0 if style is None else int(style), np.int64)


def collect_demos(
    task: str,
    arm: str = "franka",
    n_episodes: int = 100,
    variant: str = "train",
    seed: int = 0,
    num_envs: int | None = None,
    progress: bool = True,
    style: int | None = None,
    noise: float = 0.0,
    dart_noise: float = 0.0,
    only_success: bool = False,
    backend: str | None = None,
    workers: int = 0,
    **expert_opts,
) -> EpisodeDataset:
    """Run the scripted expert on ``num_envs`` robots until ``n_episodes`` episodes are finished.

    Per step: obs, action (the expert's target: clipped to the workspace, gripper to 0..1; with
    ``dart_noise`` the executed target is perturbed but the recorded label stays the clean one, so
    the demos visit off-nominal states and show how to recover from them, as in DART),
    current (``env.current_action()`` before the step). Per episode: success and expert_id
    (the mode the expert followed: drawer, push goal, nav branch, face pair; 0 for unimodal tasks).
    Episodes are ordered by robot then by start, so the result depends only on the arguments.
    backend: 'mujoco' | 'kinematic' | None (MuJoCo where the task has a model); workers: MuJoCo
    worker processes (hitl_sim.mj.pool; same result as none).
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    backend = resolve_backend(task, backend)
    # MuJoCo robots step one after another in this process, so more of them only cost memory (a
    # robosuite lift env holds ~140 MB); the kinematic simulator steps them as one array
    num_envs = int(num_envs or min(n_episodes, 32 if backend == "kinematic" else 8))
    env = make_env(task, arm, num_envs=num_envs, variant=variant, seed=seed, backend=backend, workers=workers)
    try:
        return _collect(env, task, n_episodes, variant, seed, num_envs, progress, style, noise, dart_noise,
                        only_success, backend, expert_opts)
    finally:
        if hasattr(env, "close"):
            env.close()


def action_bounds(env) -> tuple[np.ndarray, np.ndarray]:
    """Per action column (``env.action_names``: x, y, z, yaw, gripper per arm, or Metaworld's x, y, z,
    gripper): the arm's workspace box, yaw within [-pi, pi], gripper within [0, 1]."""
    lo, hi = [], []
    for name in env.action_names:
        field = name.rsplit("_", 1)[-1]
        if field in ("x", "y", "z"):
            k = "xyz".index(field)
            lo.append(env.arm.workspace_min[k])
            hi.append(env.arm.workspace_max[k])
        elif field == "yaw":
            lo.append(-np.pi)
            hi.append(np.pi)
        elif field == "gripper":
            lo.append(0.0)
            hi.append(1.0)
        else:
            raise ValueError(f"action column {name!r}: no bound known (expected x, y, z, yaw or gripper)")
    return np.asarray(lo, float), np.asarray(hi, float)


def _collect(env, task, n_episodes, variant, seed, num_envs, progress, style, noise, dart_noise, only_success,
             backend, expert_opts) -> EpisodeDataset:
    expert = make_expert(task, style=style, noise=noise, seed=seed, backend=backend, **expert_opts)
    dart_rng = np.random.default_rng(seed + 7919)
    lo, hi = action_bounds(env)
    # robot i runs episodes i, i + num_envs, ...: a fixed assignment keeps the output deterministic
    quota = np.array([len(range(i, n_episodes, num_envs)) for i in range(num_envs)])
    started = np.minimum(quota, 1)
    bufs: list[dict[str, list]] = [{"obs": [], "action": [], "current": []} for _ in range(num_envs)]
    finished: list[list[tuple]] = [[] for _ in range(num_envs)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_episodes, desc=f"{task}/{env.arm.name}/{variant}", unit="ep")
    obs = env.reset()
    mode = _mode_reader(env, expert, backend)
    modes = mode()
    active = quota > 0
    while active.any():
        cur = env.current_action()
        act = np.clip(expert.act(env.get_state(), obs), lo, hi)
        executed = act
        if dart_noise > 0:  # DART: execute a perturbed target, record the expert's clean label
            executed = act.copy()
            pos = [i for i, n in enumerate(env.action_names) if n.rsplit("_", 1)[-1] in ("x", "y", "z")]
            executed[:, pos] += dart_rng.normal(0.0, dart_noise, (len(act), len(pos)))
            executed = np.clip(executed, lo, hi)
        new_obs, info = env.step(executed)
        for i in np.nonzero(active)[0]:
            bufs[i]["obs"].append(obs[i])
            bufs[i]["action"].append(act[i])
            bufs[i]["current"].append(cur[i])
        obs = new_obs
        ended = np.nonzero(active & info["done"])[0]
        for i in ended:
            finished[i].append(
                ({k: np.asarray(v) for k, v in bufs[i].items()}, bool(info["success"][i]), int(modes[i]))
            )
            bufs[i] = {"obs": [], "action": [], "current": []}
            if bar is not None:
                bar.update(1)
            if started[i] < quota[i]:
                started[i] += 1
                obs[i] = env.reset(ids=[i])[i]
                modes[i] = mode()[i]
            else:
                active[i] = False
    if bar is not None:
        bar.close()
    episodes = [ep for robot in finished for ep in robot]
    if only_success:
        episodes = [e for e in episodes if e[1]]
        if not episodes:
            raise RuntimeError(f"no successful {task} episode among {n_episodes}")
    lens = np.array([len(e[0]["obs"]) for e in episodes], np.int64)
    return EpisodeDataset(
        obs=np.concatenate([e[0]["obs"] for e in episodes]),
        action=np.concatenate([e[0]["action"] for e in episodes]),
        current=np.concatenate([e[0]["current"] for e in episodes]),
        episode_ends=np.cumsum(lens),
        source=np.full(int(lens.sum()), SOURCE_HUMAN, np.int8),
        success=np.array([e[1] for e in episodes]),
        expert_id=np.array([e[2] for e in episodes], np.int16),
        meta={
            "task": task,
            "arm": env.arm.name,
            "variant": variant,
            "obs_names": env.obs_names,
            "action_names": env.action_names,
            "dt": env.dt,
            "seed": seed,
            "noise": noise,
            "dart_noise": dart_noise,
            "style": style,
            "source": "scripted_expert",
            "max_steps": env.max_steps,
            "n_modes": env.n_modes,
            "simulator": backend,
        },
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hitl_collect", description="Collect scripted-expert demos into an .npz dataset."
    )
    p.add_argument("--task", required=True, choices=sorted(set(TASKS) | set(MJ_TASKS)))
    p.add_argument("--backend", default="auto", choices=["auto", "mujoco", "kinematic"],
                   help="simulator: auto = MuJoCo where the task has a model (hitl_sim.mj.MJ_TASKS)")
    p.add_argument("--workers", type=int, default=0, help="MuJoCo worker processes (0/1 = this process)")
    p.add_argument("--arm", default="franka", help="widowx | franka | yumi | path to a profile YAML")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--variant", default="train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--num-envs", type=int, default=None, help="robots stepped at once (default min(episodes, 32); MuJoCo: 8)"
    )
    p.add_argument(
        "--style", type=int, default=None, help="fix the expert's mode (default: sampled per episode)"
    )
    p.add_argument(
        "--noise", type=float, default=0.0, help="std (m) of noise on the expert's position targets"
    )
    p.add_argument(
        "--dart-noise", type=float, default=0.0,
        help="DART: std (m) of noise on the EXECUTED position targets; the recorded action stays the clean expert's",
    )
    p.add_argument("--only-success", action="store_true", help="drop failed episodes")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True, help="output .npz")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ds = collect_demos(
            args.task,
            args.arm,
            args.episodes,
            variant=args.variant,
            seed=args.seed,
            num_envs=args.num_envs,
            progress=not args.no_progress,
            style=args.style,
            noise=args.noise,
            dart_noise=args.dart_noise,
            only_success=args.only_success,
            backend=args.backend,
            workers=args.workers,
        )
    except (ValueError, RuntimeError) as exc:
        print(f"hitl_collect: error: {exc}", file=sys.stderr)
        return 2
    path = ds.save(args.out)
    modes = np.bincount(ds.expert_id.clip(0), minlength=ds.meta["n_modes"]).tolist()
    print(
        f"{path}: {ds.n_episodes} episodes, {ds.n_steps} steps, success {ds.success.mean():.3f}, "
        f"episodes per mode {modes}, obs_dim {ds.obs_dim}, act_dim {ds.act_dim}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
