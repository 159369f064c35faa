"""The arbiter's enums agree with the hitl_msgs constants they are published as (needs the built hitl_msgs)."""

from __future__ import annotations

from hitl_core.control_source import ControlSource
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT
from hitl_core.ros.testing import ros_imports
from hitl_teleop.arbiter import MODE_ABSOLUTE, MODE_DELTA, EpisodeEventType, HelpReason, Mode, Reason, Source

with ros_imports():
    from hitl_msgs.msg import ControlState, EpisodeEvent, HelpRequest, TeleopCommand
    from hitl_msgs.srv import SetControlMode


def constants(msg_type, prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: getattr(msg_type, k) for k in dir(msg_type) if k.startswith(prefix) and k.isupper()}


def test_control_source_is_the_message_source():
    assert {s.name: int(s) for s in ControlSource} == constants(ControlState, "SOURCE_")
    assert Source is ControlSource


def test_set_control_mode_sources_are_control_sources():
    requestable = constants(SetControlMode.Request, "SOURCE_")
    assert requestable and all(ControlSource[name] == value for name, value in requestable.items())


def test_reasons_are_the_message_reasons():
    assert {r.name: int(r) for r in Reason} == constants(ControlState, "REASON_")


def test_episode_events_and_teleop_modes():
    assert {e.name: int(e) for e in EpisodeEventType} == constants(EpisodeEvent, "EVENT_")
    assert (MODE_DELTA, MODE_ABSOLUTE) == (TeleopCommand.MODE_DELTA, TeleopCommand.MODE_ABSOLUTE)


def test_help_reasons_exist_in_the_message():
    published = constants(HelpRequest, "REASON_")
    assert all(published[r.name] == int(r) for r in HelpReason)


def test_every_mode_publishes_a_message_source():
    published = set(constants(ControlState, "SOURCE_").values())
    assert {int(m.source) for m in Mode} == published
    assert {m for m in Mode if m.help_requested} == {Mode.AWAITING_HELP, Mode.HUMAN_ROBOT_GATED}


def test_reason_and_source_names_of_the_console_markers_and_lerobot_export_are_the_enums():
    from hitl_policy.lerobot_format import REASON_NAMES, SOURCE_NAMES
    from hitl_teleop.console import state

    assert list(state.SOURCE_NAMES) == SOURCE_NAMES == sorted(constants(ControlState, "SOURCE_"),
                                                                key=constants(ControlState, "SOURCE_").get)
    assert list(state.REASON_NAMES) == REASON_NAMES == sorted(constants(ControlState, "REASON_"),
                                                                key=constants(ControlState, "REASON_").get)


def test_dataset_labels_are_control_sources():
    assert (SOURCE_ROBOT, SOURCE_HUMAN, SOURCE_PAUSED) == (ControlSource.POLICY, ControlSource.HUMAN,
                                                           ControlSource.PAUSED)
