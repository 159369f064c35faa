"""Evaluation harness (tables T1-T5): a thin wrapper over ``python -m hitl_bringup.eval``.

    python bench/eval.py [--quick] [--sim kinematic|mujoco] [--jobs 2] [--out bench/results]

Writes bench/results/outcomes.json and the plots; see docs/results.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_policy", "hitl_teleop", "hitl_bringup", "hitl_sim"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from hitl_bringup.eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
