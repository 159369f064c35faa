"""Workspace pytest hooks.

ROS tests skip with a reason on a machine where hitl_msgs was not built. In the README's test run
(scripts/run_tests.sh sets HITL_REQUIRE_ROS=1) such a skip would hide a broken build, so there it
is turned into a failure.

The ROS test fixtures (a private ROS domain per graph) are hitl_core's plugin: src/hitl_core/hitl_core/ros/testing.py.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["hitl_core.ros.testing"]

_ROS_WORDS = ("hitl_msgs", "rclpy", "ROS")


def _fail_ros_skip(report) -> None:
    if (os.environ.get("HITL_REQUIRE_ROS") == "1" and report.skipped
            and any(w in str(report.longrepr) for w in _ROS_WORDS)):
        report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_ros_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_ros_skip(outcome.get_result())
