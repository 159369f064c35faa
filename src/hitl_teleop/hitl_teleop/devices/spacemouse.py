"""SpaceMouse -> TeleopSample: 6-DoF relative motion with deadband and scaling, hold-to-intervene button.

Input is either a pyspacemouse ``SpaceMouseState`` (x, y, z, roll, pitch, yaw in [-1, 1], buttons)
or the spacenav driver's topics (``spacenav/joy``: 6 axes + buttons). One button is held to
intervene (engaged and take_over while held, as in IWR); another toggles the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hitl_teleop.devices.common import DeviceConfig, GripperButton, TeleopSample, deadband

AXES = ("x", "y", "z", "roll", "pitch", "yaw")


@dataclass
class SpaceMouseConfig(DeviceConfig):
    DEFAULT = "spacemouse"

    linear_speed: float = 0.10  # m/s at full deflection
    angular_speed: float = 0.5  # rad/s at full deflection
    deadband: float = 0.08  # fraction of full deflection
    rate_hz: float = 50.0
    max_dt: float = 0.1  # s: a longer gap between samples counts as this long
    takeover_button: int = 0
    gripper_button: int = 1
    gripper_mode: str = "toggle"  # "toggle" on press, or "hold" (closed while held)
    # base-frame axis i takes device axis linear_axes[i] times linear_signs[i]
    linear_axes: tuple[str, str, str] = ("x", "y", "z")
    linear_signs: tuple[float, float, float] = (1.0, 1.0, 1.0)
    angular_axes: tuple[str, str, str] = ("roll", "pitch", "yaw")
    angular_signs: tuple[float, float, float] = (1.0, 1.0, 1.0)
    axis_convention: str = "ros"  # pyspacemouse AxisConvention value (x forward, y left, z up)
    operator_id: str = "operator_0"
    frame_id: str = ""

    def check(self) -> None:
        for a in (*self.linear_axes, *self.angular_axes):
            if a not in AXES:
                raise ValueError(f"spacemouse axis {a!r} is not one of {AXES}")
        super().check()


class SpaceMouseMapper:
    def __init__(self, cfg: SpaceMouseConfig | None = None) -> None:
        self.cfg = cfg or SpaceMouseConfig()
        self._gripper = GripperButton()
        self._last_t: float | None = None

    def _button(self, buttons: Any, i: int) -> bool:
        return 0 <= i < len(buttons) and bool(buttons[i])

    def update_axes(self, axes: dict[str, float], buttons: Any, t: float) -> TeleopSample:
        c = self.cfg
        dt = 1.0 / c.rate_hz if self._last_t is None else float(np.clip(t - self._last_t, 0.0, c.max_dt))
        self._last_t = t
        raw = np.array([float(axes.get(a, 0.0)) for a in AXES])
        if not np.all(np.isfinite(raw)):
            raw = np.zeros(6)
        v = deadband(np.clip(raw, -1.0, 1.0), c.deadband)
        vals = dict(zip(AXES, v))
        lin = np.array([vals[a] * s for a, s in zip(c.linear_axes, c.linear_signs)]) * c.linear_speed * dt
        ang = np.array([vals[a] * s for a, s in zip(c.angular_axes, c.angular_signs)]) * c.angular_speed * dt
        held = self._button(buttons, c.takeover_button)
        grip = self._gripper.update(self._button(buttons, c.gripper_button), c.gripper_mode)
        if not held:
            lin, ang = np.zeros(3), np.zeros(3)
        return c.sample(t, "spacemouse", engaged=held, take_over=held, delta_linear=lin, delta_angular=ang,
                        gripper=grip)

    def update(self, state: Any, t: float | None = None) -> TeleopSample:
        """From a pyspacemouse SpaceMouseState (``t`` defaults to the state's own timestamp)."""
        axes = {a: getattr(state, a) for a in AXES}
        return self.update_axes(axes, list(getattr(state, "buttons", [])), state.t if t is None else t)

    def update_spacenav(self, joy_axes: list[float], joy_buttons: list[int], t: float) -> TeleopSample:
        """From spacenav's ``spacenav/joy`` (axes: x y z roll pitch yaw, already normalized to ~[-1, 1])."""
        if len(joy_axes) < 6:
            raise ValueError(f"spacenav/joy has {len(joy_axes)} axes, expected 6")
        return self.update_axes(dict(zip(AXES, joy_axes[:6])), joy_buttons, t)
