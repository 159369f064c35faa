"""TeleopSample: one device sample in plain Python, and its conversion to hitl_msgs/TeleopCommand.

Semantics the arbiter relies on (see TeleopCommand.msg): ``engaged`` = deadman / hold-to-intervene
held; ``take_over`` = take-over button held; ``pause`` / ``reset`` are one-sample edges; DELTA mode
carries this sample's increment in the arm base frame (metres / radians); ``stamp`` is the sample time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

DEVICE_NAMES = ("spacemouse", "joy", "trakstar", "keyboard")
MODE_DELTA = 0
MODE_ABSOLUTE = 1


@dataclass
class TeleopSample:
    stamp: float  # seconds (device sample time)
    device: str
    operator_id: str = ""
    frame_id: str = ""
    engaged: bool = False
    take_over: bool = False
    pause: bool = False
    reset: bool = False
    mode: int = MODE_DELTA
    delta_linear: np.ndarray = field(default_factory=lambda: np.zeros(3))
    delta_angular: np.ndarray = field(default_factory=lambda: np.zeros(3))
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    quaternion: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))  # x y z w
    arm_index: int = 0
    gripper: float = 0.0

    def moving(self) -> bool:
        return bool(np.any(self.delta_linear != 0) or np.any(self.delta_angular != 0))


class EdgeDetector:
    """Rising-edge detector for buttons: ``update(pressed)`` is True only on the sample that went down."""

    def __init__(self) -> None:
        self._prev = False

    def update(self, pressed: bool) -> bool:
        edge = bool(pressed) and not self._prev
        self._prev = bool(pressed)
        return edge

    def reset(self) -> None:
        self._prev = False


class ToggleButton:
    """A button that toggles a boolean on each press (for example the gripper on a SpaceMouse)."""

    def __init__(self, initial: bool = False) -> None:
        self.state = initial
        self._edge = EdgeDetector()

    def update(self, pressed: bool) -> bool:
        if self._edge.update(pressed):
            self.state = not self.state
        return self.state


class GripperButton:
    """The gripper command (0 open, 1 closed) from a button in a config's ``gripper_mode``: toggled on
    each press ("toggle"), or closed while held ("hold")."""

    def __init__(self) -> None:
        self._toggle = ToggleButton()

    def update(self, pressed: bool, mode: str) -> float:
        closed = self._toggle.update(pressed) if mode == "toggle" else bool(pressed)
        return 1.0 if closed else 0.0


def deadband(values: np.ndarray, threshold: float) -> np.ndarray:
    """Zero |v| <= threshold and rescale the rest so the output is continuous at the threshold."""
    v = np.asarray(values, float)
    if threshold <= 0:
        return v.copy()
    mag = np.abs(v)
    out = np.where(mag > threshold, np.sign(v) * (mag - threshold) / max(1.0 - threshold, 1e-9), 0.0)
    return out


def clamp_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if limit > 0 and n > limit:
        return np.asarray(v, float) * (limit / n)
    return np.asarray(v, float)


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"device config not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"device config {p} must be a YAML mapping, got {type(data).__name__}")
    return data


def config_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config"


def device_config_path(name: str) -> Path:
    """``name`` is a bundled config (``ps3``, ``spacemouse``, ...) or a path to a YAML file."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    return config_dir() / "devices" / f"{name}.yaml"


class DeviceConfig:
    """What the device configs (dataclasses: SpaceMouseConfig, TrakstarConfig, JoyMap) share: ``load``
    a bundled name (``DEFAULT`` when none) or a YAML path; ``from_dict`` for a flat config, refusing
    unknown keys (YAML lists become tuples); ``check``, the gripper mode (subclasses add their rules)."""

    DEFAULT = ""  # the bundled config config/devices/<DEFAULT>.yaml, also the config's name in errors
    gripper_mode: str
    operator_id: str
    frame_id: str

    @classmethod
    def load(cls, name: str | None = None) -> Any:
        return cls.from_dict(load_yaml(device_config_path(name or cls.DEFAULT)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        unknown = sorted(set(d) - known - {"device"})
        if unknown:
            raise ValueError(f"unknown {cls.DEFAULT} config keys: {unknown}")
        cfg = cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known})
        cfg.check()
        return cfg

    def sample(self, t: float, device: str, **fields: Any) -> TeleopSample:
        """A TeleopSample of ``device`` at ``t`` with this config's operator and frame ids."""
        return TeleopSample(stamp=t, device=device, operator_id=self.operator_id, frame_id=self.frame_id, **fields)

    def check(self) -> None:
        """ValueError naming what is wrong (called by ``from_dict``)."""
        if self.gripper_mode not in ("toggle", "hold"):
            raise ValueError(f"gripper_mode must be 'toggle' or 'hold', got {self.gripper_mode!r}")


def to_msg(sample: TeleopSample, msg_cls: Any | None = None) -> Any:
    """Build a hitl_msgs/TeleopCommand from a sample (hitl_msgs imported lazily)."""
    if msg_cls is None:
        from hitl_msgs.msg import TeleopCommand as msg_cls  # noqa: N813
    msg = msg_cls()
    sec = int(np.floor(sample.stamp))
    msg.header.stamp.sec = sec
    msg.header.stamp.nanosec = min(round((sample.stamp - sec) * 1e9), 999_999_999)
    msg.header.frame_id = sample.frame_id
    msg.device = sample.device
    msg.operator_id = sample.operator_id
    msg.engaged = bool(sample.engaged)
    msg.take_over = bool(sample.take_over)
    msg.pause = bool(sample.pause)
    msg.reset = bool(sample.reset)
    msg.mode = int(sample.mode)
    msg.delta.linear.x, msg.delta.linear.y, msg.delta.linear.z = (float(v) for v in sample.delta_linear)
    msg.delta.angular.x, msg.delta.angular.y, msg.delta.angular.z = (float(v) for v in sample.delta_angular)
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in sample.position)
    q.x, q.y, q.z, q.w = (float(v) for v in sample.quaternion)
    msg.arm_index = int(sample.arm_index)
    msg.gripper = float(np.clip(sample.gripper, 0.0, 1.0))
    return msg
