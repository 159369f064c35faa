"""The simulator backend behind ``hitl_sim``'s factories: "kinematic" (default) or "mujoco".

``backend=`` is passed to ``hitl_sim.make_env`` / ``make_expert`` / ``collect_demos`` only when it is
not the default, so callers run on a ``hitl_sim`` with or without the MuJoCo backend parameter.
"""

from __future__ import annotations

DEFAULT_SIM = "kinematic"


def backend_kwargs(sim: str) -> dict:
    return {} if sim in ("", DEFAULT_SIM) else {"backend": sim}


def make_env(task: str, arm: str, num_envs: int, variant: str, seed: int, sim: str = DEFAULT_SIM):
    from hitl_sim import make_env as _make_env

    return _make_env(task, arm, num_envs=num_envs, variant=variant, seed=seed, **backend_kwargs(sim))


def make_expert(task: str, seed: int = 0, sim: str = DEFAULT_SIM, **opts):
    from hitl_sim import make_expert as _make_expert

    return _make_expert(task, seed=seed, **opts, **backend_kwargs(sim))


def collect(task: str, arm: str, n: int, seed: int, variant: str = "train", sim: str = DEFAULT_SIM):
    """``n`` expert demonstrations (no progress bar)."""
    from hitl_sim import collect_demos

    return collect_demos(task, arm, n, variant, seed=seed, progress=False, num_envs=min(n, 16),
                         **backend_kwargs(sim))
