"""python -m hitl_bringup.eval: see hitl_bringup/eval/__init__.py."""

import sys

from hitl_bringup.eval.cli import main

sys.exit(main())
