"""Camera images of a bag -> LeRobot v3 video features (one mp4 per camera, AV1 like LeRobot's default).

Per step (an ``observation`` of the bag) the frame is the latest ``sensor_msgs/msg/Image`` of that
camera received before the next observation (the rule bag_dataset uses for ``arm_command``), or the
first image after it when none came before. A camera is any Image topic under the robot's namespace;
its feature key is ``observation.images.<topic without namespace and /image(_raw), '/' -> '_'>``.
Two passes per bag: log times first (nothing decoded), then only the chosen images are decoded, so
memory holds the frames of one bag's selected steps. Needs ``av`` (PyAV) to encode.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hitl_core.bag_reader import MessageDecoder, iter_bag
from hitl_core.data import DatasetError

IMAGE_TYPE = "sensor_msgs/msg/Image"
VIDEO_OPTIONS = {"crf": "30", "g": "2", "preset": "12"}  # LeRobot's encoder defaults (crf 30, GOP 2)
VCODEC, PIX_FMT = "libsvtav1", "yuv420p"


def camera_key(topic: str, namespace: str) -> str:
    rel = topic[len(namespace):] if namespace and topic.startswith(namespace + "/") else topic
    rel = re.sub(r"/(image_raw|image|image_rect_color|image_color)$", "", rel.strip("/")) or "camera"
    return "observation.images." + re.sub(r"[^A-Za-z0-9_]+", "_", rel).strip("_")


def image_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> (H, W, 3) uint8 RGB."""
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
    enc = str(msg.encoding)
    if enc not in channels:
        raise DatasetError(f"camera image encoding {enc!r} not supported (rgb8, bgr8, rgba8, bgra8, mono8)")
    c, h, w, step = channels[enc], int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size < h * step or step < w * c:
        raise DatasetError(f"camera image of {data.size} bytes does not hold {h} rows of {step} bytes")
    img = data[: h * step].reshape(h, step)[:, : w * c].reshape(h, w, c)
    if enc in ("bgr8", "bgra8"):
        img = img[:, :, 2::-1]
    elif enc == "rgba8":
        img = img[:, :, :3]
    elif enc == "mono8":
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img)


@dataclass
class Camera:
    key: str
    frames: list[np.ndarray] = field(default_factory=list)  # one per step, in dataset order

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames[0].shape


def bag_cameras(labels: Any) -> dict[str, Camera]:
    """The cameras found in every (bag, namespace) of the steps in ``labels`` (bag_dataset.StepLabels),
    one frame per step. Cameras missing from some robot or bag are left out (nothing to align)."""
    groups: list[tuple[str, str, np.ndarray]] = []   # (bag, namespace, step rows)
    bags, spaces = list(labels.bag), list(labels.namespace)
    n = len(labels.log_time_ns)
    if len(bags) != n or len(spaces) != n:
        raise DatasetError("step labels carry no bag/namespace per step: cannot align camera images")
    start = 0
    for i in range(1, n + 1):
        if i == n or (bags[i], spaces[i]) != (bags[start], spaces[start]):
            groups.append((bags[start], spaces[start], np.arange(start, i)))
            start = i
    per_group: list[dict[str, list[np.ndarray]]] = []
    for bag, ns, rows in groups:
        per_group.append(_group_frames(bag, ns, labels.log_time_ns[rows]))
    common = set(per_group[0]) if per_group else set()
    for g in per_group[1:]:
        common &= set(g)
    cams: dict[str, Camera] = {}
    for key in sorted(common):
        frames = [f for g in per_group for f in g[key]]
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise DatasetError(f"camera {key}: image size changes within the recording ({sorted(shapes)})")
        cams[key] = Camera(key, frames)
    return cams


def _group_frames(bag: str, ns: str, step_times: np.ndarray) -> dict[str, list[np.ndarray]]:
    times: dict[str, list[int]] = {}
    topic_key: dict[str, str] = {}
    for m in iter_bag(bag):
        if m.type != IMAGE_TYPE or not (m.topic.startswith(ns + "/") if ns else True):
            continue
        topic_key.setdefault(m.topic, camera_key(m.topic, ns))
        times.setdefault(m.topic, []).append(m.log_time)
    chosen: dict[str, np.ndarray] = {}
    for topic, ts in times.items():
        t = np.sort(np.asarray(ts, np.int64))
        nxt = np.concatenate([step_times[1:], [np.iinfo(np.int64).max]])
        idx = np.searchsorted(t, nxt, side="left") - 1
        chosen[topic] = t[np.clip(idx, 0, len(t) - 1)]      # none before: the first image
    wanted = {(topic, int(x)) for topic, arr in chosen.items() for x in arr}
    decoded: dict[tuple[str, int], np.ndarray] = {}
    decoder = MessageDecoder()
    for m in iter_bag(bag, topics=set(chosen)):
        if (m.topic, m.log_time) in wanted and (m.topic, m.log_time) not in decoded:
            decoded[(m.topic, m.log_time)] = image_to_rgb(decoder.decode(m))
    return {topic_key[topic]: [decoded[(topic, int(x))] for x in arr] for topic, arr in chosen.items()}


def encode_video(frames: list[np.ndarray], path: Path, fps: int) -> dict[str, Any]:
    """Frames (H, W, 3 uint8) -> an AV1 mp4 at ``fps`` (frame i at i / fps); returns LeRobot's
    ``info`` block of the feature (video.* keys as lerobot's get_video_info writes them)."""
    try:
        import av
    except ImportError as exc:
        raise DatasetError("the bag has camera images: encoding them needs PyAV (pip install av; "
                           "requirements/python.txt)") from exc
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors and warnings only, not its banner
    h, w, _ = frames[0].shape
    if h % 2 or w % 2:
        raise DatasetError(f"camera images of {w}x{h}: yuv420p video needs an even width and height")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream(VCODEC, rate=int(fps), options=dict(VIDEO_OPTIONS))
        stream.width, stream.height, stream.pix_fmt = w, h, PIX_FMT
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    with av.open(str(path)) as probe:
        vs = probe.streams.video[0]
        info = {"video.height": vs.height, "video.width": vs.width, "video.codec": vs.codec.canonical_name,
                "video.pix_fmt": vs.pix_fmt, "video.fps": int(vs.base_rate), "video.channels": 3,
                "has_audio": False}
    info.update({"video.g": 2, "video.crf": 30, "is_depth_map": False})
    return info


def video_stats(frames: list[np.ndarray], quantiles: tuple[float, ...]) -> dict[str, Any]:
    """LeRobot's image stats: per channel over all pixels, in [0, 1], shaped (3, 1, 1)."""
    hist = np.zeros((3, 256), np.int64)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for f in frames:
        px = f.reshape(-1, 3)
        for c in range(3):
            hist[c] += np.bincount(px[:, c], minlength=256)
        x = px.astype(np.float64) / 255.0
        total += x.sum(0)
        total_sq += (x * x).sum(0)
    count = hist[0].sum()
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    cdf = np.cumsum(hist, axis=1) / count
    levels = np.arange(256) / 255.0

    def per_channel(v: np.ndarray) -> list:
        return [[[float(x)]] for x in v]

    stats = {"min": per_channel([levels[np.flatnonzero(hist[c])[0]] for c in range(3)]),
             "max": per_channel([levels[np.flatnonzero(hist[c])[-1]] for c in range(3)]),
             "mean": per_channel(mean), "std": per_channel(std)}
    for q in quantiles:
        stats[f"q{round(q * 100):02d}"] = per_channel([levels[np.searchsorted(cdf[c], q)] for c in range(3)])
    stats["count"] = [len(frames)]
    return stats

