#!/usr/bin/env bash
# The workspace test run: pytest over every package's test/ folder (ruff runs as one of the tests).
# pytest's "no tests collected" (exit 5) is a failure here, never a green run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HITL_REQUIRE_ROS=1  # ROS tests fail, not skip, when the workspace is not built
python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "run_tests: pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
