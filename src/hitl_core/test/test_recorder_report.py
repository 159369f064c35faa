"""The recorder's matched-publishers report (hitl_core/recorder_report.py)."""

from __future__ import annotations

import pytest
from hitl_core.recorder_report import encode_report, parse_report


def test_round_trip_and_what_it_hears():
    report = parse_report(encode_report({"/r0/episode_event": 1, "/r0/observation": 0}, 100.0))
    assert report.matched == {"/r0/episode_event": 1, "/r0/observation": 0}
    assert report.hears("/r0/episode_event", since=99.0)
    assert not report.hears("/r0/observation", since=99.0)   # the reader has matched nobody yet
    assert not report.hears("/r0/episode_event", since=100.5)  # counted before the node started
    assert not report.hears("/r0/arm_command", since=0.0)     # not recorded


@pytest.mark.parametrize("text", ["", "{", "[]", '{"stamp": 1}', '{"stamp": "x", "matched": {}}',
                                  '{"stamp": 1, "matched": {"/a": "many"}}'])
def test_malformed_reports_are_refused(text):
    with pytest.raises(ValueError, match="not a recorder report"):
        parse_report(text)
