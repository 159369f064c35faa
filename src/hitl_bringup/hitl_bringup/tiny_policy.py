"""A small policy trained in seconds from scripted demonstrations, for graphs that only have to run:
the soak (bench/soak.py) and the end-to-end tests (test_e2e.py, test_fleet_e2e.py)."""

from __future__ import annotations

from pathlib import Path


def train_tiny_policy(folder: str | Path, task: str, kind: str, *, n_episodes: int, steps: int,
                      hidden: list[int], arm: str = "franka", seed: int = 3, name: str | None = None) -> str:
    """Train ``kind`` (a hitl_policy registry name) on ``n_episodes`` demonstrations of ``task`` for ``steps``
    and save it in ``folder``; returns the checkpoint's path. One torch thread (tests run in parallel)."""
    import torch
    from hitl_policy.registry import make_policy

    from hitl_sim import collect_demos

    torch.set_num_threads(1)
    ds = collect_demos(task, arm=arm, n_episodes=n_episodes, variant="train", seed=seed, progress=False)
    policy = make_policy(kind, ds.obs_dim, ds.act_dim, hidden=hidden)
    policy.fit(ds, steps=steps, batch_size=64, progress=False)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return str(policy.save(folder / (name or f"{task}_{kind}.pt")))
