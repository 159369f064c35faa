"""Random estimator for the IIFL-R ablation: a score uniform in [0, 1], independent of the state.

With threshold ``1 - rate`` (``self.threshold``) it requests help at ``rate`` of the queries.
"""

from __future__ import annotations

import numpy as np

from hitl_policy.reseed import stream_seed
from hitl_policy.uncertainty.base import UncertaintyResult


class RandomEstimator:
    name = "random"

    def __init__(self, policy=None, rate: float = 0.1, seed: int | None = 0, **params) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        self.policy = policy  # unused: kept so that make_estimator(name, policy) works for every name
        self.rate = float(rate)
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the scores' stream from ``seed`` (hitl_policy/reseed.py says why)."""
        self.rng = np.random.default_rng(stream_seed(seed, "random_gate"))

    @property
    def threshold(self) -> float:
        """The threshold that requests help at ``rate`` (score > threshold)."""
        return 1.0 - self.rate

    def estimate(self, obs_hist: np.ndarray, current: np.ndarray | None = None) -> list[UncertaintyResult]:
        b = len(np.asarray(obs_hist))
        return [UncertaintyResult(score=float(s), estimator=self.name) for s in self.rng.random(b)]
