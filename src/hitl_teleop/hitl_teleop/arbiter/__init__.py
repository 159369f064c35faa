"""The arbiter: who commands the arm (policy, human, nobody) and why. Pure logic, no ROS, no clock.

Modules: ``types`` (enums, input/output records), ``config`` (ArbiterConfig), ``modes`` (the gating
decision, one handler per control mode), ``help_gate`` (threshold, hysteresis, accepted hand-back),
``watchdogs`` (holds), ``commands`` (safety filter, hold pose, operator targets), ``actions`` (action
row layout) and ``core`` (the Arbiter that ties them together). docs/arbiter.md describes the behaviour.
"""

from hitl_teleop.arbiter import types as _types
from hitl_teleop.arbiter.actions import ActionParts, join_action, split_action, yaw_to_quat
from hitl_teleop.arbiter.config import ArbiterConfig
from hitl_teleop.arbiter.core import Arbiter
from hitl_teleop.arbiter.types import *  # noqa: F403  (the enums and records: types.__all__)
from hitl_teleop.arbiter.watchdogs import Hold

__all__ = [
    *_types.__all__,
    "ActionParts",
    "Arbiter",
    "ArbiterConfig",
    "Hold",
    "join_action",
    "split_action",
    "yaw_to_quat",
]
