"""Threshold calibration: target-rate quantile (ThriftyDAgger) and IFL's 99th percentile."""

import numpy as np
import pytest
from hitl_policy.uncertainty.calibration import (
    CalibrationReport,
    calibrate,
    calibrate_threshold,
    ifl_threshold,
    realized_rate,
)


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


def test_ifl_threshold_is_the_99th_percentile():
    scores = np.arange(1, 1001, dtype=float)  # 1..1000
    thr = ifl_threshold(scores)
    assert 989.0 < thr < 991.0
    assert realized_rate(scores, thr) == pytest.approx(0.01, abs=0.001)
    assert ifl_threshold(scores, 50) == pytest.approx(500.5)


def test_report_carries_realized_rate_and_method():
    rng = np.random.default_rng(0)
    s = rng.normal(size=2000)
    rep = calibrate(s, target_rate=0.1)
    assert isinstance(rep, CalibrationReport)
    assert rep.method == "target_rate" and rep.n_scores == 2000
    assert rep.realized_rate == pytest.approx(0.1, abs=0.002)
    rep = calibrate(s, percentile=99)
    assert rep.method == "percentile" and rep.target_rate == pytest.approx(0.01)
    assert rep.realized_rate == pytest.approx(0.01, abs=0.002)
    assert set(rep.as_dict()) >= {"threshold", "realized_rate", "target_rate"}


def test_ties_lower_the_realized_rate_and_report_says_so():
    s = np.concatenate([np.zeros(900), np.ones(100)])  # 90% of scores tied at 0
    rep = calibrate(s, target_rate=0.3)
    assert rep.realized_rate == pytest.approx(0.1)  # cannot reach 0.3: the report shows it


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
    with pytest.raises(ValueError, match="percentile"):
        ifl_threshold([1.0, 2.0], 101)
    with pytest.raises(ValueError, match="exactly one"):
        calibrate([1.0, 2.0])
