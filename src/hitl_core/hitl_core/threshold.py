"""The help threshold's one rule for "unset", shared by the uncertainty monitor, the arbiter and the loaders.

A threshold is any finite number >= 0 (0 is legal: every positive score asks for help). ``UNSET``
(-1.0, any negative number) means "not given here": the caller falls back to a calibration file
(``threshold_file``), the task YAML, or, in the arbiter, the threshold each Uncertainty message
carries. NaN and inf are errors, never "unset".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

UNSET = -1.0


def is_unset(threshold: float | None) -> bool:
    """True for None or a negative number; raises ValueError for NaN/inf (a typo, not a choice)."""
    if threshold is None:
        return True
    value = float(threshold)
    if not math.isfinite(value):
        raise ValueError(f"threshold {threshold!r} is not finite; use a number >= 0, or {UNSET} for unset")
    return value < 0


def read_threshold_file(threshold_file: str | Path) -> float:
    """The 'threshold' of a calibration file (JSON/YAML mapping, or a bare number)."""
    path = Path(threshold_file)
    if not path.exists():
        raise ValueError(f"{path}: threshold file not found")
    raw = path.read_text()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = yaml.safe_load(raw)
    if isinstance(value, dict):
        value = value.get("threshold")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: no numeric 'threshold' in the file") from None
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"{path}: threshold {out} is not a finite non-negative number")
    return out


def resolve_threshold(threshold: float | None, threshold_file: str | Path = "", required: bool = True) -> float | None:
    """``threshold`` if set (>= 0), else the file's; neither: ValueError if ``required``, else None."""
    if not is_unset(threshold):
        return float(threshold)
    if threshold_file:
        return read_threshold_file(threshold_file)
    if required:
        raise ValueError("no threshold: set 'threshold' (>= 0) or 'threshold_file' (calibration output)")
    return None
