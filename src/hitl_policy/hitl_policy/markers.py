"""RViz markers for the uncertainty monitor, built as plain dataclasses and converted to
``visualization_msgs/MarkerArray`` only at the edge (the import is lazy), so the drawing logic is
tested without ROS.

Drawn per robot: the end-effector path as a LINE_STRIP with one colour per point (score relative
to the threshold: green -> yellow -> red), the sampled denoising vectors as a LINE_LIST, the
mixture mode means as SPHEREs, and a TEXT_VIEW_FACING label with the score and the control source.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from hitl_core.control_source import ControlSource

# visualization_msgs/Marker constants (kept here so this module needs no ROS import)
ARROW, CUBE, SPHERE, CYLINDER, LINE_STRIP, LINE_LIST = 0, 1, 2, 3, 4, 5
SPHERE_LIST, TEXT_VIEW_FACING = 7, 9
ADD, DELETE, DELETEALL = 0, 2, 3


RGBA = tuple[float, float, float, float]


def score_color(score: float, threshold: float, alpha: float = 1.0) -> RGBA:
    """Green at 0, yellow at the threshold, red at twice the threshold and above."""
    if not np.isfinite(score):
        return (0.5, 0.5, 0.5, alpha)
    t = float(np.clip(score / max(threshold, 1e-9), 0.0, 2.0)) / 2.0  # 0..1, 0.5 = threshold
    if t <= 0.5:
        return (2.0 * t, 1.0, 0.0, alpha)
    return (1.0, 2.0 * (1.0 - t), 0.0, alpha)


@dataclass
class MarkerSpec:
    """One marker, ROS-free. points: (n, 3) metres; colors: n RGBA or empty (use ``color``)."""

    ns: str
    id: int
    type: int
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    colors: list[RGBA] = field(default_factory=list)
    color: RGBA = (1.0, 1.0, 1.0, 1.0)
    scale: tuple[float, float, float] = (0.01, 0.01, 0.01)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    text: str = ""
    action: int = ADD


class PathTracker:
    """The end-effector path of the current episode with the score at each point."""

    def __init__(self, max_points: int = 1000) -> None:
        self._pts: deque[tuple[np.ndarray, float]] = deque(maxlen=max_points)
        self.episode: int | None = None

    def add(self, episode: int, position: np.ndarray, score: float) -> None:
        if episode != self.episode:
            self._pts.clear()
            self.episode = episode
        self._pts.append((np.asarray(position, float).reshape(3), float(score)))

    def reset(self) -> None:
        self._pts.clear()
        self.episode = None

    def points(self) -> np.ndarray:
        return np.array([p for p, _ in self._pts]).reshape(-1, 3)

    def scores(self) -> np.ndarray:
        return np.array([s for _, s in self._pts], float)


def _xyz(a: np.ndarray, dim: int) -> np.ndarray:
    """Rows of ``dim`` values -> (n, 3): the first three entries (zero-padded for 2-D tasks)."""
    a = np.asarray(a, float).reshape(-1, max(dim, 1)) if np.size(a) else np.zeros((0, max(dim, 1)))
    out = np.zeros((len(a), 3))
    out[:, : min(3, a.shape[1])] = a[:, :3]
    return out


def build_markers(path: np.ndarray, path_scores: np.ndarray, threshold: float, *, score: float,
                  source: int | None = None, help_requested: bool = False, dim: int = 3,
                  sample_points: np.ndarray | None = None, sample_vectors: np.ndarray | None = None,
                  mode_means: np.ndarray | None = None, mode_weights: np.ndarray | None = None,
                  estimator: str = "", label_offset: float = 0.12) -> list[MarkerSpec]:
    """All markers of one robot for one update (ids are stable so RViz replaces them in place)."""
    path = np.asarray(path, float).reshape(-1, 3)
    path_scores = np.asarray(path_scores, float).reshape(-1)
    if len(path) != len(path_scores):
        raise ValueError(f"{len(path)} path points but {len(path_scores)} scores")
    specs: list[MarkerSpec] = []
    if len(path) >= 2:
        specs.append(MarkerSpec("ee_path", 0, LINE_STRIP, points=path,
                                colors=[score_color(s, threshold) for s in path_scores], scale=(0.006, 0, 0)))
    else:
        specs.append(MarkerSpec("ee_path", 0, LINE_STRIP, action=DELETE))
    pts = _xyz(sample_points if sample_points is not None else [], dim)
    vec = _xyz(sample_vectors if sample_vectors is not None else [], dim)
    if len(pts) and len(pts) == len(vec):
        seg = np.empty((2 * len(pts), 3))
        seg[0::2] = pts
        seg[1::2] = pts + vec
        specs.append(MarkerSpec("denoising_vectors", 1, LINE_LIST, points=seg,
                                color=(0.2, 0.6, 1.0, 0.8), scale=(0.002, 0, 0)))
    else:
        specs.append(MarkerSpec("denoising_vectors", 1, LINE_LIST, action=DELETE))
    means = _xyz(mode_means if mode_means is not None else [], dim)
    weights = np.asarray(mode_weights if mode_weights is not None else np.ones(len(means)), float).reshape(-1)
    for i in range(8):  # up to 8 mode spheres, stale ones deleted
        if i < len(means):
            w = float(weights[i]) if i < len(weights) else 1.0
            d = 0.015 + 0.03 * np.sqrt(max(w, 0.0))
            specs.append(MarkerSpec("mode_means", 10 + i, SPHERE, position=tuple(means[i]),
                                    color=(1.0, 0.0, 1.0, 0.8), scale=(d, d, d)))
        else:
            specs.append(MarkerSpec("mode_means", 10 + i, SPHERE, action=DELETE))
    anchor = path[-1] if len(path) else np.zeros(3)
    src = ControlSource(source).name if source in set(ControlSource) else "?"
    text = f"{estimator + ' ' if estimator else ''}u={score:.3f} / {threshold:.3f}  [{src}]"
    if help_requested:
        text += "  HELP"
    above = anchor + np.array([0.0, 0.0, label_offset])
    specs.append(MarkerSpec("label", 2, TEXT_VIEW_FACING, position=tuple(above),
                            color=score_color(score, threshold), scale=(0, 0, 0.035), text=text))
    return specs


def to_marker_array(specs: list[MarkerSpec], frame_id: str, stamp, lifetime_s: float = 0.0):
    """MarkerSpecs -> visualization_msgs/MarkerArray (lazy import: only nodes call this)."""
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import Point
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray

    def rgba(c: RGBA) -> ColorRGBA:
        return ColorRGBA(r=float(c[0]), g=float(c[1]), b=float(c[2]), a=float(c[3]))

    out = MarkerArray()
    for s in specs:
        m = Marker()
        m.header.frame_id = frame_id.lstrip("/")
        m.header.stamp = stamp
        m.ns, m.id, m.type, m.action = s.ns, int(s.id), int(s.type), int(s.action)
        m.pose.orientation.w = 1.0
        m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in s.position)
        m.scale.x, m.scale.y, m.scale.z = (float(v) for v in s.scale)
        m.color = rgba(s.color)
        m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in s.points]
        m.colors = [rgba(c) for c in s.colors]
        m.text = s.text
        sec = int(lifetime_s)
        m.lifetime = Duration(sec=sec, nanosec=int((lifetime_s - sec) * 1e9))
        out.markers.append(m)
    return out


class MarkerDrawer:
    """Keeps the latest score/control source and the EE path; makes MarkerArrays (from the ROS messages' fields)."""

    def __init__(self, path_length: int = 1000) -> None:
        self.path = PathTracker(path_length)
        self.source: int | None = None
        self.last = None  # latest Uncertainty msg
        self.threshold = 1.0

    def on_control_state(self, msg) -> None:
        self.source = int(msg.source)

    def add_pose(self, episode: int, position: np.ndarray, score: float) -> None:
        self.path.add(episode, position, score)

    def markers(self, unc_msg, frame_id: str, stamp):
        dim = int(unc_msg.dim) or 3
        specs = build_markers(
            self.path.points(), self.path.scores(), float(unc_msg.threshold), score=float(unc_msg.score),
            source=self.source, help_requested=bool(unc_msg.help_requested), dim=dim,
            sample_points=np.asarray(unc_msg.sample_points),
            sample_vectors=np.asarray(unc_msg.sample_vectors),
            mode_means=np.asarray(unc_msg.mode_means), mode_weights=np.asarray(unc_msg.mode_weights),
            estimator=unc_msg.estimator)
        return to_marker_array(specs, frame_id, stamp)
