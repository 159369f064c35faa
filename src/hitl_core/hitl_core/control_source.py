"""Who commands the robot and why: the one control-source and control-reason enums of the stack.

The values are those of ``hitl_msgs/ControlState.SOURCE_*`` / ``REASON_*`` and
``SetControlMode.Request.SOURCE_*`` (checked by src/hitl_teleop/test/test_arbiter_types.py). The
arbiter publishes them, the simulated operator, the arm adapters, the console, the markers and the
LeRobot export read them, and episode datasets label each step with the source
(``hitl_core.data.SOURCE_*``: RESET steps are stored as PAUSED).
"""

from __future__ import annotations

from enum import IntEnum


class ControlSource(IntEnum):
    POLICY = 0  # the learned policy drives
    HUMAN = 1  # an operator drives
    PAUSED = 2  # nobody drives: paused, or waiting for help (the arm holds)
    RESET = 3  # the arm driver performs a hard reset (the arm holds)


class ControlReason(IntEnum):
    """Why the source is what it is. The last five are holds (watchdogs): the source is kept, the arm held."""

    NONE = 0
    ROBOT_GATED = 1  # the uncertainty passed the threshold: the robot asked for help
    HUMAN_GATED = 2  # the operator took over at will
    UNCERTAINTY_LOW = 3  # a robot-gated intervention ended: the score stayed low
    OPERATOR_RELEASED = 4  # the operator handed control back
    PAUSE = 5
    RESUME = 6
    RESET = 7  # hard reset
    STALE_POLICY = 8
    STALE_OBSERVATION = 9
    STALE_DEVICE = 10
    DEADMAN_RELEASED = 11
    INVALID_COMMAND = 12
