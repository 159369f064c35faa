"""The arbiter's enums and its input/output records (plain data, no ROS).

The enum values are the ``hitl_msgs`` constants (ControlState.SOURCE_* / REASON_*, EpisodeEvent.EVENT_*,
HelpRequest.REASON_*, TeleopCommand.MODE_*); src/hitl_teleop/test/test_arbiter_types.py checks that
they agree. The control modes and what each one means are in docs/arbiter.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

import numpy as np
from hitl_core.control_source import ControlReason, ControlSource

__all__ = [  # what the arbiter package re-exports (hitl_teleop/arbiter/__init__.py)
    "GATINGS",
    "HOLD_CAUSES",
    "MODE_ABSOLUTE",
    "MODE_DELTA",
    "ActionChunkIn",
    "ArbiterOutput",
    "CommandOut",
    "ControlSource",
    "ControlStateOut",
    "EpisodeEventIn",
    "EpisodeEventType",
    "HelpReason",
    "HelpRequestOut",
    "LogLevel",
    "LogRecord",
    "Mode",
    "ObservationIn",
    "Reason",
    "Source",
    "TeleopIn",
    "UncertaintyIn",
]

Source = ControlSource  # who drives: POLICY, HUMAN, PAUSED, RESET (one enum for the whole stack)


Reason = ControlReason  # why: ControlState.REASON_* (the last five are holds)

HOLD_CAUSES = (
    Reason.STALE_POLICY,
    Reason.STALE_OBSERVATION,
    Reason.STALE_DEVICE,
    Reason.DEADMAN_RELEASED,
    Reason.INVALID_COMMAND,
)


class EpisodeEventType(IntEnum):
    """EpisodeEvent.EVENT_*."""

    START = 0
    END = 1
    RESET = 2


class HelpReason(IntEnum):
    """HelpRequest.REASON_* that the arbiter emits."""

    UNCERTAINTY = 0
    HARD_RESET = 1


class Mode(Enum):
    """The arbiter's control mode: who drives and on whose initiative (docs/arbiter.md, State machine)."""

    POLICY = "policy"  # the policy drives
    AWAITING_HELP = "awaiting_help"  # the score passed the help level: held, help requested
    HUMAN_ROBOT_GATED = "human_robot_gated"  # an operator answered the help request
    HUMAN_HUMAN_GATED = "human_human_gated"  # an operator holds the take-over button
    HUMAN_BY_REQUEST = "human_by_request"  # set_control_mode HUMAN: no button needed, ends by request
    PAUSED = "paused"  # paused by the operator, set_control_mode or a failed hard reset
    RESET = "reset"  # the arm driver performs a hard reset

    @property
    def source(self) -> ControlSource:
        return _MODE_SOURCE[self]

    @property
    def help_requested(self) -> bool:
        return self in (Mode.AWAITING_HELP, Mode.HUMAN_ROBOT_GATED)


_MODE_SOURCE = {
    Mode.POLICY: ControlSource.POLICY,
    Mode.AWAITING_HELP: ControlSource.PAUSED,
    Mode.HUMAN_ROBOT_GATED: ControlSource.HUMAN,
    Mode.HUMAN_HUMAN_GATED: ControlSource.HUMAN,
    Mode.HUMAN_BY_REQUEST: ControlSource.HUMAN,
    Mode.PAUSED: ControlSource.PAUSED,
    Mode.RESET: ControlSource.RESET,
}

MODE_DELTA = 0  # TeleopCommand.MODE_DELTA
MODE_ABSOLUTE = 1  # TeleopCommand.MODE_ABSOLUTE
GATINGS = ("robot", "human", "both")


class LogLevel(IntEnum):
    """Severity of an arbiter log record (the values of Python's logging levels)."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


@dataclass(frozen=True)
class LogRecord:
    level: LogLevel
    text: str
    routine: bool = False  # repeats every tick in normal use (clamps): a node may throttle it

    def __str__(self) -> str:
        return self.text


# ----------------------------------------------------------------------------------------- inputs
@dataclass
class ObservationIn:
    stamp: float
    ee_positions: np.ndarray  # (n_arms, 3) metres, base frame
    gripper: np.ndarray | None = None  # (n_arms,)
    ee_orientations: np.ndarray | None = None  # (n_arms, 4) quaternion x, y, z, w
    episode: int = 0
    step: int = 0


@dataclass
class ActionChunkIn:
    stamp: float
    actions: np.ndarray  # (horizon, action_dim), absolute targets
    n_execute: int = 1
    dt: float = 0.1
    observation_stamp: float = 0.0


@dataclass
class UncertaintyIn:
    stamp: float
    score: float
    threshold: float | None = None


@dataclass
class TeleopIn:
    stamp: float
    operator_id: str = ""
    engaged: bool = False
    take_over: bool = False
    pause: bool = False
    reset: bool = False
    mode: int = MODE_DELTA
    position: np.ndarray | None = None  # (3,) MODE_ABSOLUTE
    orientation: np.ndarray | None = None  # (4,) MODE_ABSOLUTE (zero quaternion: keep orientation)
    delta_linear: np.ndarray | None = None  # (3,) MODE_DELTA
    delta_angular: np.ndarray | None = None  # (3,) MODE_DELTA, rotation vector [rad]
    arm_index: int = 0
    gripper: float = 0.0
    device: str = ""


@dataclass
class EpisodeEventIn:
    stamp: float
    episode: int
    event: int
    success: bool = False
    failed: bool = False


# --------------------------------------------------------------------------------------- outputs
@dataclass
class CommandOut:
    source: ControlSource
    hold: bool
    positions: np.ndarray  # (n_arms, 3)
    orientations: np.ndarray  # (n_arms, 4)
    gripper: np.ndarray  # (n_arms,)


@dataclass
class ControlStateOut:
    source: ControlSource
    reason: Reason
    reason_text: str
    robot_id: str
    operator_id: str
    episode: int
    step: int
    holding: bool
    help_requested: bool
    uncertainty: float
    threshold: float
    intervention_elapsed: float
    rejected_commands: int
    clamped_commands: int


@dataclass
class HelpRequestOut:
    robot_id: str
    active: bool
    priority: float
    uncertainty: float
    reason: HelpReason


@dataclass
class ArbiterOutput:
    stamp: float
    command: CommandOut
    state: ControlStateOut
    proposed: np.ndarray | None  # the policy's action for now (also while the human drives)
    human_action: np.ndarray | None  # the human's applied action, in the chunk's layout
    help_request: HelpRequestOut | None  # publish when not None (every tick while active, once on withdrawal)
    reset_request: bool  # call reset_episode(hard=True) now
    human_steps: int  # ticks driven by the human this episode
    log: list[LogRecord] = field(default_factory=list)
