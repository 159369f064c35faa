"""Random estimator (IIFL-R ablation)."""

import numpy as np
import pytest
from hitl_policy.registry import make_estimator
from hitl_policy.uncertainty.base import UncertaintyEstimator
from hitl_policy.uncertainty.random_gate import RandomEstimator


def test_requests_help_at_the_rate():
    est = RandomEstimator(rate=0.2, seed=3)
    obs = np.zeros((100, 1, 4), np.float32)
    scores = np.array([r.score for _ in range(50) for r in est.estimate(obs, np.zeros((100, 3)))])
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert np.mean(scores > est.threshold) == pytest.approx(0.2, abs=0.01)
    assert est.estimate(obs, None)[0].estimator == "random"


def test_seeded_and_state_independent():
    a = [r.score for r in RandomEstimator(seed=5).estimate(np.zeros((10, 1, 2)), None)]
    b = [r.score for r in RandomEstimator(seed=5).estimate(np.ones((10, 1, 2)) * 7, None)]
    c = [r.score for r in RandomEstimator(seed=6).estimate(np.zeros((10, 1, 2)), None)]
    assert a == b and a != c


def test_registry_and_protocol():
    est = make_estimator("random", None, rate=0.05, seed=1)
    assert isinstance(est, UncertaintyEstimator)
    assert est.threshold == pytest.approx(0.95)
    with pytest.raises(ValueError, match="rate"):
        RandomEstimator(rate=1.5)
