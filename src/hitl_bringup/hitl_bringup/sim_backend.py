"""The simulator backend behind ``hitl_sim``'s factories: "kinematic" (this module's default) or "mujoco".

Where ``hitl_sim.make_env`` takes a ``backend`` parameter the backend is always passed explicitly (its
own default picks MuJoCo wherever a task has a model); a ``hitl_sim`` without that parameter has only
the kinematic simulator, and asking it for another backend is a clear error.
"""

from __future__ import annotations

import inspect

DEFAULT_SIM = "kinematic"


def has_backends() -> bool:
    """True when this hitl_sim's make_env takes ``backend=`` (the MuJoCo backend exists)."""
    from hitl_sim import make_env as _make_env

    return "backend" in inspect.signature(_make_env).parameters


def backend_kwargs(sim: str) -> dict:
    sim = sim or DEFAULT_SIM
    if has_backends():
        return {"backend": sim}
    if sim != DEFAULT_SIM:
        raise ValueError(f"simulator {sim!r}: this hitl_sim has no backend parameter (only the kinematic simulator)")
    return {}


def arm_for(task: str, arm: str, sim: str = DEFAULT_SIM) -> str:
    """``arm``, or the task's own arm where it comes with one and runs on nothing else (Metaworld's
    Sawyer on MuJoCo); any other arm a task does not support is an error."""
    if (sim or DEFAULT_SIM) != "mujoco":
        return arm
    from hitl_sim.mj import task_class

    cls = task_class(task)
    if arm in cls.arms:
        return arm
    if cls.own_arm_only:
        return cls.arms[0]
    raise ValueError(f"task {task!r} runs on arms {cls.arms}, not {arm!r}")


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
