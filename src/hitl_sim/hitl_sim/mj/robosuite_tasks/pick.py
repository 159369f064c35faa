"""The stateless scripted pick shared by the robosuite experts: approach, descend, close, and recover.

Every decision is a function of the current end effector and the grasp target, so the expert can
take over from any state a policy leaves: a closed empty gripper opens (rising a little first), a
half-closed gripper away from the grasp opens in place, a hand low and far from the target rises
before moving sideways, and a misaligned hand near the target corrects at its height.
"""

from __future__ import annotations

import numpy as np

from hitl_sim.mj.robosuite_tasks.arm_control import YAW_LIMIT

PRE_Z = 0.08  # approach height above the grasp point (m)
ALIGN_XY = 0.006  # aligned above the grasp point (m)
ALIGN_YAW = 0.08  # rad
AT_Z = 0.006  # at the grasp height (m)
OPEN = 0.06  # the gripper counts as open below this
CLOSED_EMPTY = 0.9  # closed on nothing (a miss) above this
LOWERING_MARGIN = 0.004  # a carried object this far below its carry height is being lowered (m)


def choose_yaw(grasp_yaw: float, period: float, current: float) -> float:
    """The grasp yaw + k * period inside the wrist window nearest the current yaw."""
    cands = grasp_yaw + period * np.arange(-8, 9)
    cands = cands[np.abs(cands) <= YAW_LIMIT]
    return float(cands[np.argmin(np.abs(cands - current))])


def place_tolerance(lowest: float, top: float, carry_clear: float, start: float, keep: float) -> float:
    """xy tolerance (m) for lowering a carried object onto a support whose top is at ``top``.

    ``start`` to begin lowering from the carry height (the object's lowest point ``carry_clear`` above
    ``top``), the looser ``keep`` once it is being lowered: without this hysteresis a hand that drifts by
    a millimetre on the way down (measured on the YuMi) rises back to the carry height, again and again,
    until the episode times out.
    """
    return keep if lowest < top + carry_clear - LOWERING_MARGIN else start


def pick_step(ee: np.ndarray, grasp: np.ndarray, yaw: float, safe_z: float | None = None) -> np.ndarray:
    """(5,) target toward grasping at ``grasp`` (3, base frame) with gripper yaw ``yaw``.

    ``ee`` is the end effector's [x, y, z, yaw, gripper]; safe_z: travel height (default grasp + PRE_Z).
    """
    pos, cur_yaw, g = ee[:3], float(ee[3]), float(ee[4])
    pre_z = grasp[2] + PRE_Z if safe_z is None else safe_z
    exy = float(np.linalg.norm(pos[:2] - grasp[:2]))
    eyaw = abs(yaw - cur_yaw)
    aligned = exy < ALIGN_XY and eyaw < ALIGN_YAW
    at = aligned and abs(pos[2] - grasp[2]) < AT_Z
    out = np.array([pos[0], pos[1], pos[2], cur_yaw, 0.0])
    if at and g < CLOSED_EMPTY:
        out[:4] = [grasp[0], grasp[1], grasp[2], yaw]
        out[4] = 1.0
        return out
    if g > OPEN:  # not at the grasp with a closed or closing gripper: let go first (rise if it was a miss)
        if g >= CLOSED_EMPTY:
            out[2] = pos[2] + 0.03
        return out
    out[3] = yaw
    if exy > 0.015:  # travel at the safe height; rise first when low
        if pos[2] < pre_z - 0.01:
            out[2] = pre_z
        else:
            out[:3] = [grasp[0], grasp[1], max(pre_z, pos[2] - 0.02) if exy < 0.03 else pre_z]
        return out
    if not aligned:  # close: correct in place without descending
        out[:2] = grasp[:2]
        out[2] = max(pos[2], grasp[2] + 0.02) if pos[2] < pre_z - 0.01 else pre_z
        return out
    out[:3] = grasp  # aligned: descend
    return out


def hold(ee: np.ndarray, grip: float) -> np.ndarray:
    out = np.array(ee[:5], float)
    out[4] = grip
    return out


def hand_noise(out: np.ndarray, ee: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Hand noise on the position target: mostly along the motion, fading as the motion shrinks."""
    if noise <= 0:
        return out
    d = out[:3] - ee[:3]
    n = float(np.linalg.norm(d))
    u = d / max(n, 1e-12)
    fade = noise * min(1.0, n / 0.015)
    out = out.copy()
    out[:3] += fade * (u * rng.normal() + 0.25 * rng.normal(size=3))
    return out
