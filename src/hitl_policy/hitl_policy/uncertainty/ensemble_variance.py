"""Ensemble variance (IFL / ThriftyDAgger): the spread of the members' predicted actions.

score = mean over chunk dimensions of the variance (over members, ddof 0) of the members' mean
actions, as ThriftyDAgger's ``variance()``; by default in normalized action units so that
dimensions with large ranges do not dominate (``normalized=False``: raw units).
"""

from __future__ import annotations

import warnings

import numpy as np

from hitl_policy.uncertainty.base import UncertaintyResult


class EnsembleVarianceEstimator:
    name = "ensemble_variance"

    def __init__(self, policy, normalized: bool = True, **params) -> None:
        if params:
            warnings.warn(f"EnsembleVarianceEstimator ignores unknown parameters {sorted(params)}",
                          stacklevel=2)
        if policy is None or not hasattr(policy, "member_predictions"):
            raise TypeError("EnsembleVarianceEstimator needs an ensemble policy (member_predictions)")
        self.policy = policy
        self.normalized = bool(normalized)

    def scores(self, obs_hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) scores and the members' raw predictions (M, B, horizon, act_dim)."""
        preds = np.asarray(self.policy.member_predictions(obs_hist), np.float64)
        x = preds
        if self.normalized:
            norm = self.policy.act_normalizer
            x = (preds - norm.offset.astype(np.float64)) / norm.scale.astype(np.float64)
        return x.var(0).mean(axis=(-2, -1)), preds

    def estimate(self, obs_hist: np.ndarray, current: np.ndarray | None = None) -> list[UncertaintyResult]:
        s, preds = self.scores(obs_hist)
        return [UncertaintyResult(score=float(v), estimator=self.name, within_mode_variance=float(v),
                                  points=preds[:, i, 0, :].astype(np.float32)) for i, v in enumerate(s)]
