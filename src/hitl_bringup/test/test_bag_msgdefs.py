"""Complete "ros2msg" definitions built the way rosbag2 builds them, and decodable from the file alone."""

from __future__ import annotations

import pytest
from hitl_bringup.bag import BagWriter, WriterOptions
from hitl_bringup.bag.msgdefs import (
    DELIMITER,
    MessageDefinitionError,
    canonical_type,
    dependencies,
    find_msg_file,
    full_definition,
)
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory


def _msg_lines(text: str) -> list[str]:
    return [line[5:] for line in text.splitlines() if line.startswith("MSG: ")]


def test_arm_command_definition_is_rosbag2_concatenation():
    text = full_definition("hitl_msgs/msg/ArmCommand")
    own = find_msg_file("hitl_msgs/ArmCommand").read_text()
    assert text.startswith(own)
    # depth first, dependencies of each message in sorted order, each type once
    assert _msg_lines(text) == ["geometry_msgs/Pose", "geometry_msgs/Point", "geometry_msgs/Quaternion",
                                "std_msgs/Header", "builtin_interfaces/Time"]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("MSG: "):
            assert lines[i - 1] == DELIMITER and len(DELIMITER) == 80
    assert text.count("\n" + DELIMITER + "\n") == 5


def test_dependencies_resolve_package_relative_names():
    text = "Point position\nQuaternion orientation\n# Foo bar\nuint8 X=1\n"
    assert dependencies(text, "geometry_msgs") == ["geometry_msgs/Point", "geometry_msgs/Quaternion"]
    assert dependencies("std_msgs/Header header\nfloat64[] data\nMarker[<=3] m\n", "pkg") == [
        "pkg/Marker", "std_msgs/Header"]


def test_unknown_type_and_bad_name_are_clear_errors():
    with pytest.raises(MessageDefinitionError, match="NoSuchType"):
        full_definition("hitl_msgs/msg/NoSuchType")
    with pytest.raises(MessageDefinitionError, match="not understood"):
        canonical_type("justaname")
    assert canonical_type("std_msgs/Header") == "std_msgs/msg/Header"


def test_recorded_message_decodes_with_the_schema_text_in_the_file(tmp_path):
    bag = tmp_path / "b"
    with BagWriter(bag, WriterOptions(fsync=False)) as w:
        w.add_topic("/r/uncertainty", "hitl_msgs/msg/Uncertainty")
        w.write_message("/r/uncertainty", {
            "header": {"stamp": {"sec": 7, "nanosec": 9}, "frame_id": "base"}, "robot_id": "r",
            "estimator": "jeffreys", "score": 1.25, "threshold": 0.5, "help_requested": True,
            "mode_count": 2, "dim": 3, "mode_weights": [0.25, 0.75], "mode_means": [1, 2, 3, 4, 5, 6],
        }, 123)
    with open(bag / "b_0.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        (schema, channel, _msg, decoded), = list(reader.iter_decoded_messages())
    assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
    assert schema.data.decode() == full_definition("hitl_msgs/msg/Uncertainty")
    assert decoded.header.stamp.sec == 7 and decoded.header.frame_id == "base"
    assert decoded.estimator == "jeffreys" and decoded.score == 1.25 and decoded.help_requested
    assert list(decoded.mode_weights) == [0.25, 0.75] and list(decoded.mode_means) == [1, 2, 3, 4, 5, 6]
