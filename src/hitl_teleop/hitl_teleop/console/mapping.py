"""Browser input -> the PS3 pad's sensor_msgs/Joy layout (config/devices/ps3.yaml), so the console
drives through the same JoyMapper (deadman, turbo, edges, gripper toggle) as the joy_teleop node.

Gamepad: the W3C Gamepad API "standard" mapping (buttons 0 cross .. 15 d-pad right; axes 0/1 left
stick x right / y down, 2/3 right stick). Keyboard: ``KeyboardEvent.key`` values held down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PS3_AXES = 4
PS3_BUTTONS = 16
# W3C standard gamepad button index -> legacy PS3 joy index (ps3.yaml)
STANDARD_TO_PS3 = {8: 0, 9: 3, 12: 4, 15: 5, 13: 6, 14: 7, 6: 8, 7: 9, 4: 10, 5: 11, 3: 12, 1: 13, 0: 14, 2: 15}
# keyboard key (lower case) -> ("axis", ps3 axis, value) or ("button", ps3 button)
KEYS: dict[str, tuple] = {
    "w": ("axis", 1, 1.0), "s": ("axis", 1, -1.0),     # left stick up/down: +x / -x
    "a": ("axis", 0, 1.0), "d": ("axis", 0, -1.0),     # left stick left/right: +y / -y
    "q": ("axis", 3, 1.0), "e": ("axis", 3, -1.0),     # right stick up/down: +z / -z
    "j": ("axis", 2, 1.0), "l": ("axis", 2, -1.0),     # right stick left/right: +yaw / -yaw
    "u": ("button", 5), "o": ("button", 7),            # d-pad right/left: +roll / -roll
    "i": ("button", 4), "k": ("button", 6),            # d-pad up/down: +pitch / -pitch
    " ": ("button", 8),                                # L2: deadman (hold to drive)
    "shift": ("button", 10),                           # L1: turbo
    "t": ("button", 11),                               # R1: take over while held
    "p": ("button", 3),                                # start: pause / resume
    "backspace": ("button", 0),                        # select: hard reset
    "g": ("button", 14),                               # cross: gripper toggle
}
KEY_HELP = ("hold Space = deadman (drive) | w/s a/d q/e = x y z | j/l yaw  u/o roll  i/k pitch | Shift turbo | "
            "hold t = take over | g gripper | p pause/resume | Backspace hard reset")


def _finite(x: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def standard_gamepad_to_ps3(axes: Sequence[float], buttons: Sequence[float]) -> tuple[list[float], list[int]]:
    """A standard-mapping gamepad (browser) -> PS3 Joy (axes, buttons). Sticks: the browser's y is
    down-positive and x right-positive; the PS3 layout's are up-positive and left-positive."""
    ax = [_finite(a) for a in list(axes)[:4]] + [0.0] * max(0, 4 - len(axes))
    out_axes = [-ax[0], -ax[1], -ax[2], -ax[3]]
    out_buttons = [0] * PS3_BUTTONS
    for std, ps3 in STANDARD_TO_PS3.items():
        if std < len(buttons) and _finite(buttons[std]) > 0.5:
            out_buttons[ps3] = 1
    return out_axes, out_buttons


def keys_to_ps3(keys: Iterable[str]) -> tuple[list[float], list[int]]:
    """Held keyboard keys -> PS3 Joy (axes, buttons). Opposite keys cancel."""
    axes = [0.0] * PS3_AXES
    buttons = [0] * PS3_BUTTONS
    for key in keys:
        entry = KEYS.get(str(key).lower())
        if entry is None:
            continue
        if entry[0] == "axis":
            axes[entry[1]] += entry[2]
        else:
            buttons[entry[1]] = 1
    return [max(-1.0, min(1.0, a)) for a in axes], buttons


def merge(*pads: tuple[list[float], list[int]]) -> tuple[list[float], list[int]]:
    """Several inputs held at once (keyboard + gamepad): axes add (clipped), buttons OR."""
    axes = [0.0] * PS3_AXES
    buttons = [0] * PS3_BUTTONS
    for a, b in pads:
        axes = [x + y for x, y in zip(axes, a)]
        buttons = [int(x or y) for x, y in zip(buttons, b)]
    return [max(-1.0, min(1.0, a)) for a in axes], buttons
