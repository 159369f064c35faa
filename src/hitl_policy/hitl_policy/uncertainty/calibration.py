"""Thresholds from scores on nominal rollouts.

- ``calibrate_threshold``: the (1 - target_rate) quantile, so a fraction ``target_rate`` of the
  scores lies above it (ThriftyDAgger sets its switching threshold to hit a target intervention rate).
  (IFL / IIFL's rule, the 99th percentile of the BC policy's rollout scores, is target_rate 0.01.)
- ``realized_rate``: the fraction of scores above a threshold (the help-request rule).
Help is requested when score > threshold. The realized rate of an arbiter with hysteresis and a
minimum intervention time is higher than the fraction of scores above the threshold; recalibrate
on deployment logs if the rate matters.
"""

from __future__ import annotations

import numpy as np


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
