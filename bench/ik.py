"""IK latency of the real-arm adapters: mink on the simulator's MJCFs (hitl_teleop.adapters.mj_arm: the
WidowX, Franka and YuMi adapters' default) and damped least squares on the bundled URDFs
(hitl_teleop.adapters.ik: the YuMi adapter's "urdf" option; the WidowX URDF the MJCF was written from).

    python bench/ik.py [--n 20]

Keys (milliseconds, median over n random reachable targets per arm):
  near_target_ms_median: a target near the seed (tracking, the usual case);
  near_reach_limit_ms_median: a target just inside the reach limit in the same direction (the slow case).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from hitl_teleop.adapters.franka import franka_chain
from hitl_teleop.adapters.ik import IKParams, solve_ik
from hitl_teleop.adapters.kinematics import kinematics_dir, load_chain
from hitl_teleop.adapters.mj_arm import solve_ik_mink
from hitl_teleop.adapters.widowx import widowx_chain
from hitl_teleop.adapters.yumi import yumi_chain, yumi_mj_chains


def bench(n: int = 20) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}
    widowx_urdf = load_chain(kinematics_dir() / "wx250s.urdf", "wx250s/base_link", "wx250s/ee_gripper_link")
    cases = (("widowx_mjcf_mink", widowx_chain(), solve_ik_mink), ("widowx_urdf_dls", widowx_urdf, solve_ik),
             ("franka_mjcf_mink", franka_chain(), solve_ik_mink),
             ("yumi_left_mjcf_mink", yumi_mj_chains()[0], solve_ik_mink),
             ("yumi_left_urdf_dls", yumi_chain("l"), solve_ik))
    for name, chain, solve in cases:
        near, far = [], []
        for _ in range(n):
            q = rng.uniform(chain.lower, chain.upper) * 0.8
            T = chain.fk(q)
            seed = np.clip(q + rng.normal(0, 0.02, chain.dof), chain.lower, chain.upper)
            t0 = time.perf_counter()
            solve(chain, T, seed, IKParams(restarts=2))
            near.append(time.perf_counter() - t0)
            T_far = T.copy()
            d = T[:3, 3] - chain.first_joint_origin()
            T_far[:3, 3] = chain.first_joint_origin() + d / np.linalg.norm(d) * chain.max_reach * 0.99
            t0 = time.perf_counter()
            solve(chain, T_far, seed, IKParams(restarts=2))
            far.append(time.perf_counter() - t0)
        out[name] = {
            "near_target_ms_median": 1e3 * float(np.median(near)),
            "near_reach_limit_ms_median": 1e3 * float(np.median(far)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="targets per arm")
    print(json.dumps(bench(parser.parse_args().n), indent=1))


if __name__ == "__main__":
    main()
