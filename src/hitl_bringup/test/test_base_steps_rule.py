"""bench/base_steps.py's rule for choosing a base's training steps by its own success (docs/results.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _module():
    spec = importlib.util.spec_from_file_location("base_steps_bench", ROOT / "bench" / "base_steps.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_in_range_the_candidate_closest_to_the_middle_wins():
    choose = _module().choose
    # threading's measurement (docs/results.md): only 500 steps lies in 0.2-0.6
    assert choose({300: 0.03, 500: 0.25, 600: 0.70, 650: 0.87, 1000: 1.0}, 0.2, 0.6) == 500
    assert choose({500: 0.25, 1000: 0.45, 2000: 0.6}, 0.2, 0.6) == 1000


def test_out_of_range_the_closest_to_the_range_wins_and_ties_go_to_fewer_steps():
    choose = _module().choose
    assert choose({500: 0.0, 1000: 0.0, 2000: 0.1, 4000: 0.13}, 0.2, 0.6) == 4000
    assert choose({25: 0.9, 50: 1.0, 100: 1.0}, 0.1, 0.5) == 25
    assert choose({500: 0.0, 1000: 0.0}, 0.2, 0.6) == 500
    assert choose({100: 0.2, 200: 0.4}, 0.1, 0.5) == 100  # both 0.1 off the middle
