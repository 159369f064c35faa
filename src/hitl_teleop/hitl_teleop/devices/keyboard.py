"""Terminal keys -> TeleopSample (development only: a terminal reports presses, never releases).

So "held" states are toggles: space toggles engaged, t toggles take-over. Motion keys give one fixed
step each press (key repeat gives continuous motion). p = pause (edge), R (shift-r) = hard reset (edge),
g toggles the gripper, 1 / 2 pick the end-effector (YuMi left / right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_teleop.devices.common import DeviceConfig, TeleopSample

# key -> (index into [lx, ly, lz, ax, ay, az], sign)
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0),
    "s": (0, -1.0),
    "a": (1, 1.0),
    "d": (1, -1.0),
    "q": (2, 1.0),
    "e": (2, -1.0),
    "u": (3, 1.0),
    "o": (3, -1.0),
    "i": (4, 1.0),
    "k": (4, -1.0),
    "j": (5, 1.0),
    "l": (5, -1.0),
}
HELP = """keys: space engage on/off | t take-over on/off | w/s +-x  a/d +-y  q/e +-z
      u/o +-roll  i/k +-pitch  j/l +-yaw | g gripper | p pause/resume | R hard reset | 1/2 arm | h help"""


@dataclass
class KeyboardConfig(DeviceConfig):
    DEFAULT = "keyboard"

    linear_step: float = 0.01  # m per key press
    angular_step: float = 0.05  # rad per key press
    operator_id: str = "operator_0"
    frame_id: str = ""

    def check(self) -> None:
        """Nothing beyond known keys: the gripper toggles with g (no gripper mode)."""


class KeyboardMapper:
    def __init__(self, cfg: KeyboardConfig | None = None) -> None:
        self.cfg = cfg or KeyboardConfig()
        self.engaged = False
        self.take_over = False
        self.gripper = 0.0
        self.arm_index = 0

    def update(self, keys: str, t: float) -> TeleopSample:
        """``keys``: the characters typed since the previous sample (may be empty)."""
        v = np.zeros(6)
        pause = reset = False
        for ch in keys:
            if ch in MOTION_KEYS:
                i, s = MOTION_KEYS[ch]
                v[i] += s * (self.cfg.linear_step if i < 3 else self.cfg.angular_step)
            elif ch == " ":
                self.engaged = not self.engaged
            elif ch == "t":
                self.take_over = not self.take_over
            elif ch == "g":
                self.gripper = 0.0 if self.gripper > 0.5 else 1.0
            elif ch == "p":
                pause = True
            elif ch == "R":
                reset = True
            elif ch in "12":
                self.arm_index = int(ch) - 1
        if not self.engaged:
            v[:] = 0.0
        return self.cfg.sample(
            t,
            "keyboard",
            engaged=self.engaged,
            take_over=self.take_over,
            pause=pause,
            reset=reset,
            delta_linear=v[:3],
            delta_angular=v[3:],
            arm_index=self.arm_index,
            gripper=self.gripper,
        )
