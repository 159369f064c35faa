"""Marker construction (ROS-free dataclasses; the MarkerArray conversion where the msgs exist)."""

from __future__ import annotations

import numpy as np
import pytest

from hitl_policy import markers as mk


def test_score_color_goes_green_yellow_red_with_the_threshold():
    assert mk.score_color(0.0, 1.0)[:3] == (0.0, 1.0, 0.0)
    assert mk.score_color(1.0, 1.0)[:3] == (1.0, 1.0, 0.0)
    assert mk.score_color(5.0, 1.0)[:3] == (1.0, 0.0, 0.0)
    low, high = mk.score_color(0.2, 1.0), mk.score_color(1.6, 1.0)
    assert low[0] < high[0] and low[1] > high[1]


def test_path_tracker_resets_per_episode():
    t = mk.PathTracker(max_points=3)
    for i in range(5):
        t.add(0, [i, 0, 0], 0.1 * i)
    assert t.points()[:, 0].tolist() == [2, 3, 4]
    t.add(1, [9, 9, 9], 1.0)
    assert t.points().tolist() == [[9, 9, 9]] and t.scores().tolist() == [1.0]


def _by_ns(specs):
    return {(s.ns, s.id): s for s in specs}


def test_build_markers_draws_path_vectors_modes_and_label():
    path = np.array([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0]], float)
    scores = np.array([0.0, 0.5, 2.0])
    points = np.array([[0.2, 0.0, 0.1, 0.5], [0.2, 0.1, 0.1, 0.5]])  # 4-D actions: xyz drawn
    vectors = np.array([[0.01, 0, 0, 0], [0, 0.02, 0, 0]])
    means = np.array([[0.3, 0.0, 0.1, 0.0], [0.3, 0.2, 0.1, 0.0]])
    specs = mk.build_markers(path, scores, 1.0, score=2.0, source=1, help_requested=True, dim=4,
                             sample_points=points, sample_vectors=vectors, mode_means=means,
                             mode_weights=np.array([0.7, 0.3]), estimator="denoising_vector")
    by = _by_ns(specs)
    line = by[("ee_path", 0)]
    assert line.type == mk.LINE_STRIP and len(line.points) == 3 and len(line.colors) == 3
    assert line.colors[0][:3] == (0.0, 1.0, 0.0) and line.colors[2][:3] == (1.0, 0.0, 0.0)
    vec = by[("denoising_vectors", 1)]
    assert vec.type == mk.LINE_LIST and len(vec.points) == 4
    np.testing.assert_allclose(vec.points[1], [0.21, 0.0, 0.1])
    np.testing.assert_allclose(vec.points[3], [0.2, 0.12, 0.1])
    spheres = [s for s in specs if s.ns == "mode_means" and s.action == mk.ADD]
    assert len(spheres) == 2 and spheres[0].position == (0.3, 0.0, 0.1)
    assert spheres[0].scale[0] > spheres[1].scale[0]  # the heavier mode is bigger
    assert sum(s.action == mk.DELETE for s in specs if s.ns == "mode_means") == 6
    label = by[("label", 2)]
    assert label.type == mk.TEXT_VIEW_FACING and "HUMAN" in label.text and "HELP" in label.text
    assert "2.000" in label.text
    np.testing.assert_allclose(label.position[:2], [0.2, 0.0])


def test_build_markers_deletes_what_it_cannot_draw():
    specs = mk.build_markers(np.zeros((1, 3)), np.zeros(1), 0.5, score=0.1, dim=2,
                             sample_points=np.zeros((0, 2)), sample_vectors=np.zeros((0, 2)))
    by = _by_ns(specs)
    assert by[("ee_path", 0)].action == mk.DELETE
    assert by[("denoising_vectors", 1)].action == mk.DELETE
    assert "?" in by[("label", 2)].text
    with pytest.raises(ValueError, match="scores"):
        mk.build_markers(np.zeros((2, 3)), np.zeros(3), 0.5, score=0.0)


def test_marker_array_conversion():
    pytest.importorskip("visualization_msgs.msg", reason="visualization_msgs (ROS) not importable")
    from builtin_interfaces.msg import Time

    path = np.array([[0, 0, 0], [0.1, 0, 0.2]], float)
    specs = mk.build_markers(path, np.array([0.1, 0.9]), 0.5, score=0.9, source=0)
    arr = mk.to_marker_array(specs, "/fr3_link0", Time(sec=3))
    strip = arr.markers[0]
    assert strip.header.frame_id == "fr3_link0" and strip.header.stamp.sec == 3
    assert strip.type == 4 and len(strip.points) == 2 and len(strip.colors) == 2
    assert abs(strip.points[1].z - 0.2) < 1e-9 and strip.colors[1].r == 1.0
    assert arr.markers[-1].text.endswith("[POLICY]")


# ------------------------------------------------------------ the uncertainty node's pure helpers
def test_uncertainty_fields_from_a_result():
    from hitl_policy.nodes.uncertainty_node import result_fields
    from hitl_policy.uncertainty.base import UncertaintyResult

    means = np.array([[0.01, 0, 0, 0, 0], [0, 0.02, 0, 0, 0]])
    r = UncertaintyResult(score=0.7, estimator="denoising_vector", mode_count=2, mode_divergence=0.5,
                          within_mode_variance=2.0, mode_means=means, mode_weights=np.array([0.6, 0.4]),
                          points=np.ones((3, 5)), vectors=np.full((3, 5), 0.1))
    f = result_fields(r, threshold=0.5, alpha=0.1, origin=np.array([0.4, 0.0, 0.3]))
    assert f["help_requested"] and f["dim"] == 3 and f["mode_count"] == 2
    np.testing.assert_allclose(f["mode_means"], [0.41, 0, 0.3, 0.4, 0.02, 0.3], atol=1e-6)
    assert len(f["sample_points"]) == 9 and len(f["sample_vectors"]) == 9
    assert not result_fields(r, threshold=0.7)["help_requested"]  # help only strictly above
    empty = result_fields(UncertaintyResult(score=float("nan"), estimator="random"), threshold=0.1)
    assert empty["mode_means"] == [] and not empty["help_requested"]


def test_threshold_and_estimator_params_parsing(tmp_path):
    from hitl_core.ros.runtime import parse_mapping_param
    from hitl_policy.nodes.uncertainty_node import resolve_threshold

    assert resolve_threshold(0.3, "") == 0.3
    (tmp_path / "cal.json").write_text('{"threshold": 0.42, "target_rate": 0.05}')
    assert resolve_threshold(-1.0, str(tmp_path / "cal.json")) == 0.42
    (tmp_path / "cal.yaml").write_text("0.25\n")
    assert resolve_threshold(-1.0, str(tmp_path / "cal.yaml")) == 0.25
    for bad, match in ((str(tmp_path / "none.json"), "not found"), ("", "no threshold")):
        with pytest.raises(ValueError, match=match):
            resolve_threshold(-1.0, bad)
    (tmp_path / "bad.json").write_text('{"thr": 1}')
    with pytest.raises(ValueError, match="no numeric"):
        resolve_threshold(-1.0, str(tmp_path / "bad.json"))
    assert parse_mapping_param("{radius: 0.1, k: 10}", "estimator_params") == {"radius": 0.1, "k": 10}
    assert parse_mapping_param("", "p") == {} and parse_mapping_param("{}", "p") == {}
    with pytest.raises(ValueError, match="mapping"):
        parse_mapping_param("[1, 2]", "estimator_params")
