"""One arm of a MuJoCo model (the simulator's MJCF) as the adapters' kinematic chain, and its IK through mink.

The real-arm adapters and the simulator then share one kinematic model per arm (docs/arms.md). The
chain offers what ``JointSpaceArm`` and the adapters' tests use of ``kinematics.Chain`` (joint names
and limits, ``fk``, a reach bound); ``solve_ik_mink`` has the contract of ``ik.solve_ik`` (seeded from
the last command, random restarts, the closest converged solution, reasons for unreachable targets),
with mink's differential IK (a QP per step under the joint limits) in place of damped least squares.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from hitl_teleop.adapters.ik import IKParams, IKResult
from hitl_teleop.adapters.kinematics import pose_error


@dataclass(frozen=True)
class ArmSpec:
    joint_names: tuple[str, ...]  # in kinematic order
    tip_body: str  # the flange body
    tcp_offset: tuple[float, float, float]  # TCP in the flange frame (metres)
    base_body: str  # targets and FK are expressed in this body's frame


def compile_with_tcp_sites(xml_path: str | Path, arms: dict[str, ArmSpec]) -> mujoco.MjModel:
    """The model's kinematic tree (geoms and meshes dropped: compiling meshes takes seconds) with one site
    per arm at its TCP (named after the arm)."""
    spec = mujoco.MjSpec.from_file(str(xml_path))
    for element in [*spec.geoms, *spec.meshes]:
        element.delete()
    for name, arm in arms.items():
        body = spec.body(arm.tip_body)
        if body is None:
            raise ValueError(f"{xml_path}: no body {arm.tip_body!r} for arm {name!r}")
        body.add_site(name=f"{name}_tcp", pos=list(arm.tcp_offset))
    return spec.compile()


def simulator_chains(arm: str, specs: dict[str, ArmSpec], mjcf: str | Path = "") -> list[MjArmChain]:
    """The arms ``specs`` (name -> spec) of ``arm``'s simulator MJCF (hitl_sim/arm_models.py), or of ``mjcf``."""
    from hitl_sim.arm_models import mjcf_path

    model = compile_with_tcp_sites(mjcf or mjcf_path(arm), specs)
    return [MjArmChain(model, name, spec) for name, spec in specs.items()]


class MjArmChain:
    """FK of one arm of ``model``; the other joints stay where ``rest`` puts them."""

    def __init__(self, model: mujoco.MjModel, name: str, arm: ArmSpec, rest: np.ndarray | None = None) -> None:
        self.model, self.name, self.spec = model, name, arm
        self.data = mujoco.MjData(model)
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in arm.joint_names]
        if min(ids) < 0:
            missing = [j for j, i in zip(arm.joint_names, ids) if i < 0]
            raise ValueError(f"model has no joints {missing}")
        self.qpos_idx = np.array([model.jnt_qposadr[i] for i in ids])
        self.dof_idx = np.array([model.jnt_dofadr[i] for i in ids])
        self.lower, self.upper = model.jnt_range[ids, 0].copy(), model.jnt_range[ids, 1].copy()
        self.site = f"{name}_tcp"
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, self.site)
        self.base_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, arm.base_body)
        self.first_body = int(model.jnt_bodyid[ids[0]])
        lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]
        self.rest = np.clip(np.zeros(model.nq), lo, hi) if rest is None else np.asarray(rest, float)
        self._reach = self._reach_bound()

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.spec.joint_names

    @property
    def dof(self) -> int:
        return len(self.spec.joint_names)

    @property
    def max_reach(self) -> float:
        return self._reach

    def within_limits(self, q: np.ndarray, tol: float = 1e-9) -> bool:
        q = np.asarray(q, float)
        return bool(np.all(q >= self.lower - tol) and np.all(q <= self.upper + tol))

    def full_q(self, q: np.ndarray) -> np.ndarray:
        full = self.rest.copy()
        full[self.qpos_idx] = q
        return full

    def _base(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[self.base_id].reshape(3, 3)
        T[:3, 3] = self.data.xpos[self.base_id]
        return T

    def world_tcp(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T_world_base, T_world_tcp) at joints ``q``."""
        self.data.qpos[:] = self.full_q(q)
        mujoco.mj_kinematics(self.model, self.data)
        T = np.eye(4)
        T[:3, :3] = self.data.site_xmat[self.site_id].reshape(3, 3)
        T[:3, 3] = self.data.site_xpos[self.site_id]
        return self._base(), T

    def fk(self, q: np.ndarray) -> np.ndarray:
        """TCP pose in the base frame."""
        T_base, T = self.world_tcp(q)
        return np.linalg.solve(T_base, T)

    def fk_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP pose and the 6xN geometric Jacobian (rows: linear, angular; base frame), as ``Chain``'s."""
        T_base, T = self.world_tcp(q)
        mujoco.mj_comPos(self.model, self.data)  # the joint axes (cdof) the Jacobians are built from
        jacp, jacr = np.zeros((3, self.model.nv)), np.zeros((3, self.model.nv))
        mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self.site_id)
        R = T_base[:3, :3].T
        J = np.vstack([R @ jacp[:, self.dof_idx], R @ jacr[:, self.dof_idx]])
        return np.linalg.solve(T_base, T), J

    def first_joint_origin(self) -> np.ndarray:
        T_base, _ = self.world_tcp(np.clip(np.zeros(self.dof), self.lower, self.upper))
        p = self.data.xanchor[self.model.body_jntadr[self.first_body]]
        return (np.linalg.solve(T_base, np.r_[p, 1.0]))[:3]

    def _reach_bound(self) -> float:
        """Sum of the distances between consecutive joint anchors and the TCP: no pose reaches farther."""
        self.world_tcp(np.clip(np.zeros(self.dof), self.lower, self.upper))
        jids = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in self.joint_names]
        points = [self.data.xanchor[j].copy() for j in jids] + [self.data.site_xpos[self.site_id].copy()]
        return float(sum(np.linalg.norm(b - a) for a, b in itertools.pairwise(points)))


def solve_ik_mink(chain: MjArmChain, T_target: np.ndarray, q_seed: np.ndarray, params: IKParams | None = None,
                  solver: str = "daqp") -> IKResult:
    """``ik.solve_ik``'s contract on a MuJoCo arm: from ``q_seed`` first, then random seeds (mink steps)."""
    import mink

    p = params or IKParams()
    seed = np.asarray(q_seed, float)
    if not np.all(np.isfinite(T_target)):
        return IKResult(False, seed, np.inf, np.inf, 0, "target is not finite")
    dist = float(np.linalg.norm(T_target[:3, 3] - chain.first_joint_origin()))
    if dist > chain.max_reach + p.pos_tol:
        return IKResult(False, seed, dist - chain.max_reach, np.inf, 0,
                        f"unreachable: target {dist:.3f} m from the first joint, reach {chain.max_reach:.3f} m")
    T_base, _ = chain.world_tcp(seed)
    task = mink.FrameTask(chain.site, "site", position_cost=1.0, orientation_cost=p.rot_weight)
    task.set_target(mink.SE3.from_matrix(T_base @ T_target))
    config = mink.Configuration(chain.model)
    limits = [mink.ConfigurationLimit(chain.model)]
    rng = np.random.default_rng(p.seed)
    seeds = [seed] + [rng.uniform(chain.lower, chain.upper) for _ in range(p.restarts)]
    best: IKResult | None = None
    for s in seeds:
        q, perr, rerr, it = _descend(chain, config, task, limits, np.clip(s, chain.lower, chain.upper), T_target, p,
                                     solver)
        ok = perr < p.pos_tol * 2 and rerr < p.rot_tol * 2
        res = IKResult(ok, q, perr, rerr, it)
        if ok:  # from the seed: the continuous branch; from a restart: good enough (the seed's branch failed)
            return res
        if best is None or perr + p.rot_weight * rerr < best.pos_error + p.rot_weight * best.rot_error:
            best = res
    best.reason = (f"unreachable: best IK pose is {best.pos_error * 1000:.1f} mm / "
                   f"{np.rad2deg(best.rot_error):.1f} deg from the target")
    return best


def _descend(chain: MjArmChain, config, task, limits, q0: np.ndarray, T_target: np.ndarray, p: IKParams,
             solver: str) -> tuple[np.ndarray, float, float, int]:
    import mink

    config.update(chain.full_q(q0))
    best_err, since_best = np.inf, 0
    q = q0
    for it in range(1, p.max_iters + 1):
        q = config.q[chain.qpos_idx].copy()
        perr, rerr = pose_error(T_target, chain.fk(q))
        if perr < p.pos_tol and rerr < p.rot_tol:
            return q, perr, rerr, it
        err = perr + p.rot_weight * rerr
        if err < best_err * (1.0 - 1e-2):
            best_err, since_best = err, 0
        else:
            since_best += 1
            if since_best >= p.stall_iters:
                break
        vel = mink.solve_ik(config, [task], 1.0, solver, damping=p.damping**2, limits=limits)
        step = vel[chain.dof_idx]
        m = float(np.max(np.abs(step)))
        if m > p.max_step:
            vel = vel * (p.max_step / m)
        config.integrate_inplace(vel, 1.0)
    q = config.q[chain.qpos_idx].copy()
    perr, rerr = pose_error(T_target, chain.fk(q))
    return q, perr, rerr, p.max_iters
