"""Rewrite the two build-machine paths baked into the ROS 2 wheels' CMake files (scripts/setup.sh runs it;
README.md, The two commands).

The wheels were built under /opt/python/cp311-cp311; colcon builds of message packages need the
Python include directory and NumPy's include directory of *this* interpreter instead. Idempotent:
files already rewritten are left alone. Prints how many files changed.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import numpy

BAKED_NUMPY = "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"
BAKED_PYTHON = "/opt/python/cp311-cp311/include/python3.11"


def rewrite(prefix: Path) -> int:
    replacements = ((BAKED_NUMPY, numpy.get_include()), (BAKED_PYTHON, sysconfig.get_paths()["include"]))
    changed = 0
    for path in (prefix / "share").rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        new = text
        for old, value in replacements:
            new = new.replace(old, value)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    return changed


if __name__ == "__main__":
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    print(f"fix_ros_wheels: rewrote baked paths in {rewrite(prefix)} cmake files under {prefix}/share")
