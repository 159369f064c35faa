"""Names -> classes, imported lazily so that a missing optional piece fails only when used.

Policies: each class has ``create(obs_dim, act_dim, **config)`` and ``load(path)``.
Estimators: each class is constructed as ``cls(policy, **params)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from hitl_policy.checkpoint import load_checkpoint

POLICIES = {
    "diffusion": "hitl_policy.models.diffusion:DiffusionPolicy",
    "ebm": "hitl_policy.models.ebm:EBMPolicy",
    "ensemble": "hitl_policy.models.ensemble:EnsemblePolicy",
}

ESTIMATORS = {
    "denoising_vector": "hitl_policy.uncertainty.denoising:DenoisingVectorEstimator",
    "denoising_vector_paper": "hitl_policy.uncertainty.denoising:PaperDenoisingVectorEstimator",
    "jeffreys": "hitl_policy.uncertainty.jeffreys:JeffreysEstimator",
    "ensemble_variance": "hitl_policy.uncertainty.ensemble_variance:EnsembleVarianceEstimator",
    "random": "hitl_policy.uncertainty.random_gate:RandomEstimator",
}

DEFAULT_ESTIMATOR = {"diffusion": "denoising_vector", "ebm": "jeffreys", "ensemble": "ensemble_variance"}


def _resolve(table: dict[str, str], name: str, what: str):
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}: expected one of {sorted(table)}")
    module, attr = table[name].split(":")
    return getattr(importlib.import_module(module), attr)


def make_policy(kind: str, obs_dim: int, act_dim: int, **config: Any):
    return _resolve(POLICIES, kind, "policy").create(obs_dim, act_dim, **config)


def load_policy(path: str | Path):
    """Load any policy checkpoint (the stored kind picks the class)."""
    kind = load_checkpoint(path)["kind"]
    return _resolve(POLICIES, kind, "policy").load(path)


def make_estimator(name: str, policy, **params: Any):
    return _resolve(ESTIMATORS, name, "uncertainty estimator")(policy, **params)
