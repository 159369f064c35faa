"""Thresholds from scores on nominal rollouts.

- ``calibrate_threshold``: the (1 - target_rate) quantile, so a fraction ``target_rate`` of the
  scores lies above it (ThriftyDAgger sets its switching threshold to hit a target intervention rate).
- ``ifl_threshold``: IFL / IIFL's rule, the 99th percentile of the scores of the BC policy's rollouts.
Help is requested when score > threshold. The realized rate of an arbiter with hysteresis and a
minimum intervention time is higher than the fraction of scores above the threshold; recalibrate
on deployment logs if the rate matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CalibrationReport:
    threshold: float
    method: str  # "target_rate" or "percentile"
    target_rate: float  # for "percentile": 1 - percentile / 100
    realized_rate: float  # fraction of the calibration scores above the threshold
    n_scores: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _clean(scores) -> np.ndarray:
    s = np.asarray(scores, np.float64).ravel()
    if s.size == 0:
        raise ValueError("no scores to calibrate on")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{int((~np.isfinite(s)).sum())} of {s.size} scores are NaN or inf")
    return s


def realized_rate(scores, threshold: float) -> float:
    """Fraction of scores strictly above the threshold (the help-request rule)."""
    return float(np.mean(_clean(scores) > threshold))


def calibrate_threshold(scores, target_rate: float) -> float:
    """Threshold such that a fraction ``target_rate`` (in [0, 1]) of the scores is above it."""
    if not 0.0 <= target_rate <= 1.0:
        raise ValueError(f"target_rate must be in [0, 1], got {target_rate}")
    s = _clean(scores)
    if target_rate == 0.0:
        return float(s.max())
    if target_rate == 1.0:
        return float(np.nextafter(s.min(), -np.inf))
    # Distinct scores: the fraction above is within 1/n of the target; tied scores can only lower it.
    return float(np.quantile(s, 1.0 - target_rate))


def ifl_threshold(scores, percentile: float = 99.0) -> float:
    """IFL / IIFL: the given percentile of the scores."""
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    return float(np.percentile(_clean(scores), percentile))


def calibrate(scores, target_rate: float | None = None, percentile: float | None = None) -> CalibrationReport:
    """One of target_rate (ThriftyDAgger-style) or percentile (IFL-style) -> threshold and realized rate."""
    if (target_rate is None) == (percentile is None):
        raise ValueError("give exactly one of target_rate and percentile")
    s = _clean(scores)
    if target_rate is not None:
        thr, method, rate = calibrate_threshold(s, target_rate), "target_rate", float(target_rate)
    else:
        thr, method, rate = ifl_threshold(s, percentile), "percentile", 1.0 - float(percentile) / 100.0
    return CalibrationReport(threshold=thr, method=method, target_rate=rate,
                             realized_rate=realized_rate(s, thr), n_scores=int(s.size))
