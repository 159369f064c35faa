"""Gamepad (sensor_msgs/Joy from the joy node) -> TeleopSample through a YAML map of axes and buttons.

Default map: config/devices/ps3.yaml (teleop_twist_joy's ps3 layout: deadman = button 8 (L2),
turbo = button 10 (L1)). Motion only while the deadman is held; releasing it zeroes the motion at
once. Pause and hard reset are edges; take-over is held; the gripper toggles (or is held).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hitl_teleop.devices.common import DeviceConfig, EdgeDetector, GripperButton, TeleopSample, deadband

MOTION_AXES = ("linear_x", "linear_y", "linear_z", "angular_x", "angular_y", "angular_z")
BUTTON_ROLES = ("deadman", "turbo", "take_over", "pause", "reset", "gripper")


@dataclass(frozen=True)
class AxisSource:
    """A motion axis from a stick (``axis`` index and ``sign``) or a pair of buttons (+, -)."""

    axis: int = -1
    sign: float = 1.0
    buttons: tuple[int, int] | None = None


@dataclass
class JoyMap(DeviceConfig):
    DEFAULT = "ps3"

    name: str = "ps3"
    linear_speed: float = 0.10
    angular_speed: float = 0.5
    turbo_factor: float = 2.0
    deadband: float = 0.1
    rate_hz: float = 20.0
    max_dt: float = 0.1
    gripper_mode: str = "toggle"
    operator_id: str = "operator_0"
    frame_id: str = ""
    axes: dict[str, AxisSource] = field(default_factory=dict)
    buttons: dict[str, int] = field(default_factory=dict)  # role -> index; -1 / absent = unused

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JoyMap:
        axes: dict[str, AxisSource] = {}
        for k, v in (d.get("axes") or {}).items():
            if k not in MOTION_AXES:
                raise ValueError(f"joy map: unknown motion axis {k!r} (expected one of {MOTION_AXES})")
            if "buttons" in v:
                b = v["buttons"]
                if len(b) != 2:
                    raise ValueError(f"joy map: {k}.buttons needs [plus, minus], got {b}")
                axes[k] = AxisSource(buttons=(int(b[0]), int(b[1])))
            else:
                axes[k] = AxisSource(axis=int(v["axis"]), sign=float(v.get("sign", 1.0)))
        buttons = {}
        for k, v in (d.get("buttons") or {}).items():
            if k not in BUTTON_ROLES:
                raise ValueError(f"joy map: unknown button role {k!r} (expected one of {BUTTON_ROLES})")
            buttons[k] = int(v)
        if buttons.get("deadman", -1) < 0:
            raise ValueError("joy map: a deadman button is required")
        scalars = {
            k: d[k]
            for k in (
                "name",
                "linear_speed",
                "angular_speed",
                "turbo_factor",
                "deadband",
                "rate_hz",
                "max_dt",
                "gripper_mode",
                "operator_id",
                "frame_id",
            )
            if k in d
        }
        m = cls(axes=axes, buttons=buttons, **scalars)
        m.check()
        return m

    def required_sizes(self) -> tuple[int, int]:
        """(axes, buttons) a Joy message must have for this map."""
        n_ax = max([a.axis for a in self.axes.values() if a.buttons is None] + [-1]) + 1
        btn = [b for b in self.buttons.values() if b >= 0]
        btn += [i for a in self.axes.values() if a.buttons for i in a.buttons]
        return n_ax, max([*btn, -1]) + 1


class JoyMapper:
    def __init__(self, joy_map: JoyMap | None = None) -> None:
        self.map = joy_map or JoyMap.load("ps3")
        self._pause, self._reset = EdgeDetector(), EdgeDetector()
        self._gripper = GripperButton()
        self._last_t: float | None = None

    def update(self, axes: list[float], buttons: list[int], t: float) -> TeleopSample:
        m = self.map
        n_ax, n_btn = m.required_sizes()
        if len(axes) < n_ax or len(buttons) < n_btn:
            raise ValueError(
                f"Joy message has {len(axes)} axes / {len(buttons)} buttons but map "
                f"{m.name!r} needs {n_ax} / {n_btn}: wrong pad or wrong map"
            )
        dt = 1.0 / m.rate_hz if self._last_t is None else float(np.clip(t - self._last_t, 0.0, m.max_dt))
        self._last_t = t

        def btn(role: str) -> bool:
            i = m.buttons.get(role, -1)
            return i >= 0 and bool(buttons[i])

        v = np.zeros(6)
        for k, src in m.axes.items():
            if src.buttons is not None:
                v[MOTION_AXES.index(k)] = float(bool(buttons[src.buttons[0]])) - float(
                    bool(buttons[src.buttons[1]])
                )
            else:
                x = float(axes[src.axis])
                v[MOTION_AXES.index(k)] = src.sign * (x if np.isfinite(x) else 0.0)
        v = deadband(np.clip(v, -1.0, 1.0), m.deadband)
        engaged = btn("deadman")
        scale = m.turbo_factor if btn("turbo") else 1.0
        lin = v[:3] * m.linear_speed * scale * dt if engaged else np.zeros(3)
        ang = v[3:] * m.angular_speed * scale * dt if engaged else np.zeros(3)
        return m.sample(
            t,
            "joy",
            engaged=engaged,
            take_over=btn("take_over"),
            pause=self._pause.update(btn("pause")),
            reset=self._reset.update(btn("reset")),
            delta_linear=lin,
            delta_angular=ang,
            gripper=self._gripper.update(btn("gripper"), m.gripper_mode),
        )
