"""Threshold calibration: target-rate quantile (ThriftyDAgger; IFL's 99th percentile is target_rate 0.01)."""

import numpy as np
import pytest
from hitl_policy.uncertainty.calibration import calibrate_threshold, realized_rate


@pytest.mark.parametrize("target", [0.02, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("dist", ["lognormal", "exponential", "bimodal"])
def test_threshold_gives_target_rate_on_held_out_scores(target, dist):
    rng = np.random.default_rng(1)

    def draw(n):
        if dist == "lognormal":
            return rng.lognormal(0.0, 1.5, n)
        if dist == "exponential":
            return rng.exponential(0.01, n)
        return np.concatenate([rng.normal(0, 1, n // 2), rng.normal(8, 0.5, n - n // 2)])

    calib, held_out = draw(5000), draw(20000)
    thr = calibrate_threshold(calib, target)
    assert abs(realized_rate(calib, thr) - target) <= 0.002
    assert abs(realized_rate(held_out, thr) - target) <= 0.02  # the brief's 2 points


def test_ifl_rule_is_the_99th_percentile():
    scores = np.arange(1, 1001, dtype=float)  # 1..1000
    thr = calibrate_threshold(scores, 0.01)
    assert 989.0 < thr < 991.0
    assert realized_rate(scores, thr) == pytest.approx(0.01, abs=0.001)


def test_ties_lower_the_realized_rate():
    s = np.concatenate([np.zeros(900), np.ones(100)])  # 90% of scores tied at 0
    assert realized_rate(s, calibrate_threshold(s, 0.3)) == pytest.approx(0.1)  # cannot reach 0.3


def test_edge_rates():
    s = np.array([0.1, 0.5, 0.9])
    assert realized_rate(s, calibrate_threshold(s, 0.0)) == 0.0
    assert realized_rate(s, calibrate_threshold(s, 1.0)) == 1.0


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [np.inf]])
def test_bad_scores_are_rejected(bad):
    with pytest.raises(ValueError, match="score"):
        calibrate_threshold(bad, 0.1)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="target_rate"):
        calibrate_threshold([1.0, 2.0], 1.5)
