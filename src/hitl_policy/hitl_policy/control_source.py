"""Who commands the robot: the one control-source enum of the stack.

The values are those of ``hitl_msgs/ControlState.SOURCE_*`` and ``SetControlMode.Request.SOURCE_*``
(checked by src/hitl_teleop/test/test_arbiter_types.py). The arbiter publishes them, the simulated
operator and the arm adapters read them, and episode datasets label each step with them
(``hitl_policy.data.SOURCE_*``: RESET steps are stored as PAUSED).
"""

from __future__ import annotations

from enum import IntEnum


class ControlSource(IntEnum):
    POLICY = 0  # the learned policy drives
    HUMAN = 1  # an operator drives
    PAUSED = 2  # nobody drives: paused, or waiting for help (the arm holds)
    RESET = 3  # the arm driver performs a hard reset (the arm holds)
