"""Damped-least-squares inverse kinematics with joint limits, restarts and reachability reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitl_teleop.adapters.kinematics import Chain, pose_error, rotation_log


@dataclass(frozen=True)
class IKParams:
    pos_tol: float = 5e-4  # metres (the round-trip tests ask for 1 mm)
    rot_tol: float = np.deg2rad(0.5)
    max_iters: int = 150
    damping: float = 0.02  # lambda of (J J^T + lambda^2 I)^-1
    max_step: float = 0.3  # rad per iteration per joint
    restarts: int = 8  # extra random seeds after the given one fails
    stall_iters: int = 10  # stop a descent whose error has not dropped 1 % in this many iterations
    rot_weight: float = 0.3  # metres per radian when mixing the two errors
    seed: int = 0


@dataclass
class IKResult:
    success: bool
    q: np.ndarray
    pos_error: float
    rot_error: float
    iterations: int
    reason: str = ""


def _solve_from(
    chain: Chain, T_target: np.ndarray, q0: np.ndarray, p: IKParams
) -> tuple[np.ndarray, float, float, int]:
    lo, hi = chain.lower, chain.upper
    q = np.clip(np.asarray(q0, float), lo, hi)
    W = np.diag([1, 1, 1, p.rot_weight, p.rot_weight, p.rot_weight])
    lam2 = p.damping**2
    best_err, since_best = np.inf, 0
    for it in range(1, p.max_iters + 1):
        T, J = chain.fk_and_jacobian(q)
        dp = T_target[:3, 3] - T[:3, 3]
        dw = rotation_log(T_target[:3, :3] @ T[:3, :3].T)
        if np.linalg.norm(dp) < p.pos_tol and np.linalg.norm(dw) < p.rot_tol:
            return q, float(np.linalg.norm(dp)), float(np.linalg.norm(dw)), it
        e = W @ np.concatenate([dp, dw])
        err = float(np.linalg.norm(e))
        if err < best_err * (1.0 - 1e-2):
            best_err, since_best = err, 0
        else:
            since_best += 1
            if since_best >= p.stall_iters:  # stuck in a local minimum or at a limit: give up early
                break
        Jw = W @ J
        dq = Jw.T @ np.linalg.solve(Jw @ Jw.T + lam2 * np.eye(6), e)
        m = float(np.max(np.abs(dq)))
        if m > p.max_step:
            dq *= p.max_step / m
        q = np.clip(q + dq, lo, hi)
    perr, rerr = pose_error(T_target, chain.fk(q))
    return q, perr, rerr, p.max_iters


def solve_ik(
    chain: Chain, T_target: np.ndarray, q_seed: np.ndarray, params: IKParams | None = None
) -> IKResult:
    """Solve from ``q_seed`` first (continuity), then from random seeds; return the best found.

    Among converged solutions the one closest to ``q_seed`` wins, so consecutive targets do not flip
    the arm between IK branches.
    """
    p = params or IKParams()
    if not np.all(np.isfinite(T_target)):
        return IKResult(False, np.asarray(q_seed, float), np.inf, np.inf, 0, "target is not finite")
    dist = float(np.linalg.norm(T_target[:3, 3] - chain.first_joint_origin()))
    if dist > chain.max_reach + p.pos_tol:
        return IKResult(
            False,
            np.asarray(q_seed, float),
            dist - chain.max_reach,
            np.inf,
            0,
            f"unreachable: target {dist:.3f} m from the first joint, reach {chain.max_reach:.3f} m",
        )
    rng = np.random.default_rng(p.seed)
    seeds = [np.asarray(q_seed, float)]
    seeds += [rng.uniform(chain.lower, chain.upper) for _ in range(p.restarts)]
    best: IKResult | None = None
    for k, s in enumerate(seeds):
        q, perr, rerr, it = _solve_from(chain, T_target, s, p)
        ok = perr < p.pos_tol * 2 and rerr < p.rot_tol * 2
        res = IKResult(ok, q, perr, rerr, it)
        if ok:
            if k == 0:
                return res
            if (
                best is None
                or not best.success
                or (np.linalg.norm(q - seeds[0]) < np.linalg.norm(best.q - seeds[0]))
            ):
                best = res
            break  # a converged restart is good enough; the seed branch already failed
        if best is None or (
            not best.success and perr + p.rot_weight * rerr < best.pos_error + p.rot_weight * best.rot_error
        ):
            best = res
    assert best is not None
    if not best.success:
        best.reason = (
            f"unreachable: best IK pose is {best.pos_error * 1000:.1f} mm / "
            f"{np.rad2deg(best.rot_error):.1f} deg from the target"
        )
    return best
