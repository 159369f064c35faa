"""trakSTAR (electromagnetic tracker) -> TeleopSample: clutched relative motion, rate-limited.

The tracker driver publishes a PoseStamped per sensor (tracker transmitter frame). While the clutch
is held, the arm follows the sensor's motion since the clutch went down (re-anchored at every press,
so releasing, moving the hand back and pressing again "ratchets" like a mouse). Positions and
rotations are mapped into the arm base frame by a fixed rotation ``tracker_to_base`` and scaled.
Increments are limited to ``max_linear_speed`` / ``max_angular_speed``; motion the limit held back is
carried to the next samples, so the arm catches up with the hand instead of drifting from it.
The angular delta is a rotation vector in the base frame, applied on the left (R <- exp(delta) R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from hitl_teleop.devices.common import DeviceConfig, GripperButton, TeleopSample, clamp_norm


@dataclass
class TrakstarConfig(DeviceConfig):
    DEFAULT = "trakstar"

    tracker_to_base_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rad, fixed-axis (URDF) convention
    position_scale: float = 1.0
    rotation_enabled: bool = True
    max_linear_speed: float = 0.20  # m/s
    max_angular_speed: float = 1.0  # rad/s
    max_dt: float = 0.1  # s
    rate_hz: float = 80.0  # trakSTAR default measurement rate
    clutch_button: int = 0  # index in the clutch Joy topic (foot pedal / hand switch)
    gripper_button: int = 1
    gripper_mode: str = "toggle"
    sensor: int = 0
    arm_index: int = 0
    operator_id: str = "operator_0"
    frame_id: str = ""


class TrakstarMapper:
    def __init__(self, cfg: TrakstarConfig | None = None) -> None:
        self.cfg = cfg or TrakstarConfig()
        self.R_bt = Rotation.from_euler("xyz", self.cfg.tracker_to_base_rpy)
        self._gripper = GripperButton()
        self._clutch_prev = False
        self._anchor_p: np.ndarray | None = None
        self._anchor_R: Rotation | None = None
        self._sent_p = np.zeros(3)
        self._sent_R = Rotation.identity()
        self._last_t: float | None = None

    def update(
        self, position: np.ndarray, quaternion_xyzw: np.ndarray, clutch: bool, gripper_button: bool, t: float
    ) -> TeleopSample:
        c = self.cfg
        dt = 1.0 / c.rate_hz if self._last_t is None else float(np.clip(t - self._last_t, 0.0, c.max_dt))
        self._last_t = t
        p = np.asarray(position, float)
        q = np.asarray(quaternion_xyzw, float)
        valid = bool(np.all(np.isfinite(p)) and np.all(np.isfinite(q)) and np.linalg.norm(q) > 1e-6)
        clutch = bool(clutch) and valid
        lin, ang = np.zeros(3), np.zeros(3)
        if clutch and not self._clutch_prev:  # press: re-anchor, nothing moves on this sample
            self._anchor_p, self._anchor_R = p.copy(), Rotation.from_quat(q)
            self._sent_p, self._sent_R = np.zeros(3), Rotation.identity()
        elif clutch and self._anchor_p is not None and self._anchor_R is not None:
            target_p = c.position_scale * self.R_bt.apply(p - self._anchor_p)
            lin = clamp_norm(target_p - self._sent_p, c.max_linear_speed * dt)
            self._sent_p = self._sent_p + lin
            if c.rotation_enabled:
                rel_t = Rotation.from_quat(q) * self._anchor_R.inv()  # spatial, tracker frame
                target_R = Rotation.from_rotvec(
                    self.R_bt.apply(rel_t.as_rotvec())
                )  # same rotation, base frame
                remaining = (target_R * self._sent_R.inv()).as_rotvec()
                ang = clamp_norm(remaining, c.max_angular_speed * dt)
                self._sent_R = Rotation.from_rotvec(ang) * self._sent_R
        self._clutch_prev = clutch
        return c.sample(t, "trakstar", engaged=clutch, take_over=clutch, delta_linear=lin, delta_angular=ang,
                        arm_index=c.arm_index, gripper=self._gripper.update(gripper_button, c.gripper_mode))
