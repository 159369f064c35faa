"""MuJoCo fleets over worker processes: ``MjPoolVecEnv`` has the ``MjVecEnv`` API (hitl_sim/mj/vec.py).

N robots are split into W contiguous blocks; worker w runs an ``MjVecEnv`` of its block with
``first_robot`` set, so robot i's generator is seeded from (seed, i) exactly as in one process, and
the pool gives the same observations, states and outcomes as ``MjVecEnv`` for the same seed.
``step`` sends every block its actions first and then collects the replies, so the workers step
in parallel. Workers start with 'spawn' (no fork of a process that holds DDS or torch threads) and
use one thread each.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import traceback
from functools import partial

import numpy as np

from hitl_sim.arms import ArmProfile
from hitl_sim.core import ClosesOnExit, EpisodeBook, SceneItem, check_actions, check_reset_ids
from hitl_sim.mj.base import MjTask
from hitl_sim.mj.vec import MjVecEnv

_BOOK = EpisodeBook.FIELDS


def build_task(task_cls: type[MjTask], arm: ArmProfile, variant: str) -> MjTask:
    """One task instance (module level, so worker processes can unpickle the factory)."""
    return task_cls(arm, variant)


def make_mj_env(
    task: str, arm: ArmProfile, num_envs: int = 1, variant: str = "train", seed: int = 0, workers: int = 0
) -> MjVecEnv | MjPoolVecEnv:
    """``MjVecEnv`` in this process, or ``MjPoolVecEnv`` when ``workers`` > 1 (capped at num_envs)."""
    from hitl_sim.mj import task_class

    cls = task_class(task)
    factory = partial(build_task, cls, arm, variant)
    workers = min(int(workers), num_envs)
    if workers > 1:
        return MjPoolVecEnv(factory, arm, num_envs=num_envs, seed=seed, workers=workers)
    return MjVecEnv(factory, arm, num_envs=num_envs, seed=seed, kind=(cls, repr(arm), variant))


def _worker(conn, factory, arm: ArmProfile, n: int, seed: int, first: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        env = MjVecEnv(factory, arm, num_envs=n, seed=seed, first_robot=first)
        meta = {k: getattr(env, k) for k in ("task_name", "variant", "dt", "max_steps", "action_names",
                                             "obs_names", "state_names", "n_modes")}
        conn.send(("ok", meta))
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        cmd, args = conn.recv()
        try:
            if cmd == "close":
                env.close()
                conn.send(("ok", None))
                return
            out = getattr(env, cmd)(*args)
            conn.send(("ok", (out, {k: getattr(env, k).copy() for k in _BOOK})))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class MjPoolVecEnv(EpisodeBook, ClosesOnExit):
    """N robots of one arm on one MuJoCo task, stepped in ``workers`` processes."""

    backend = "mujoco"

    def __init__(self, make_task, arm: ArmProfile, num_envs: int = 1, seed: int = 0, workers: int = 2) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if not 1 <= workers <= num_envs:
            raise ValueError(f"workers must be in 1..num_envs={num_envs}, got {workers}")
        self.arm = arm
        self.num_envs = num_envs
        self.n_arms = arm.n_arms
        blocks = np.array_split(np.arange(num_envs), workers)
        self._blocks = [(int(b[0]), int(b[-1]) + 1) for b in blocks]
        ctx = mp.get_context("spawn")
        self._conns, self._procs = [], []
        for lo, hi in self._blocks:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, make_task, arm, hi - lo, seed, lo), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        metas = [self._recv(c) for c in self._conns]
        for k, v in metas[0].items():
            setattr(self, k, v)
        self.act_dim, self.obs_dim, self.state_dim = (len(x) for x in (self.action_names, self.obs_names,
                                                                        self.state_names))
        self._init_book(num_envs)

    # ------------------------------------------------------------------ plumbing
    def _recv(self, conn):
        status, payload = conn.recv()
        if status != "ok":
            raise RuntimeError(f"MuJoCo worker failed:\n{payload}")
        return payload

    def _call_all(self, cmd: str, per_block_args: list[tuple]) -> list:
        for conn, args in zip(self._conns, per_block_args):
            conn.send((cmd, args))
        outs = []
        for conn, (lo, hi) in zip(self._conns, self._blocks):
            out, book = self._recv(conn)
            for k in _BOOK:
                getattr(self, k)[lo:hi] = book[k]
            outs.append(out)
        return outs

    def _call_one(self, i: int, cmd: str, *args):
        w = self._worker_of(i)
        self._conns[w].send((cmd, (i - self._blocks[w][0], *args)))
        out, _ = self._recv(self._conns[w])
        return out

    def _worker_of(self, i: int) -> int:
        if not 0 <= i < self.num_envs:
            raise ValueError(f"robot id {i} out of range 0..{self.num_envs - 1}")
        return next(w for w, (lo, hi) in enumerate(self._blocks) if lo <= i < hi)

    # ------------------------------------------------------------------ the VecEnv API
    def reset(self, ids=None, seeds=None, hard: bool = False) -> np.ndarray:
        """As ``MjVecEnv.reset``; only the workers that hold one of ``ids`` are asked."""
        ids, seeds = check_reset_ids(ids, seeds, self.num_envs)
        for w, (lo, hi) in enumerate(self._blocks):
            mine = (ids >= lo) & (ids < hi)
            if mine.any():
                local = ids[mine] - lo
                self._conns[w].send(("reset", (local, None if seeds is None else seeds[mine], hard)))
        for w, (lo, hi) in enumerate(self._blocks):
            if ((ids >= lo) & (ids < hi)).any():
                _, book = self._recv(self._conns[w])
                for k in _BOOK:
                    getattr(self, k)[lo:hi] = book[k]
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        a = check_actions(actions, self.num_envs, self.act_dim)
        outs = self._call_all("step", [(a[lo:hi],) for lo, hi in self._blocks])
        obs = np.concatenate([o[0] for o in outs])
        info = {k: np.concatenate([o[1][k] for o in outs]) for k in outs[0][1]}
        return obs, info

    def _gather(self, cmd: str) -> np.ndarray:
        return np.concatenate(self._call_all(cmd, [()] * len(self._blocks)))

    def current_action(self) -> np.ndarray:
        return self._gather("current_action")

    def get_state(self) -> np.ndarray:
        return self._gather("get_state")

    def observe(self) -> np.ndarray:
        return self._gather("observe")

    def scene(self, i: int = 0) -> list[SceneItem]:
        return self._call_one(i, "scene")

    def render(self, i: int = 0, width: int = 320, height: int = 240) -> np.ndarray | None:
        return self._call_one(i, "render", width, height)

    def close(self) -> None:
        for conn, proc in zip(self._conns, self._procs):
            if proc.is_alive():
                try:
                    conn.send(("close", ()))
                    conn.recv()
                except (EOFError, OSError, BrokenPipeError):
                    pass
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self._procs = []

    def __del__(self) -> None:  # workers are daemons; this only ends them early
        with contextlib.suppress(Exception):
            self.close()
