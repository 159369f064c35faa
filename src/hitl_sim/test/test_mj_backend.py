"""The backend switch (hitl_sim.make_env/make_expert/collect_demos), MuJoCo worker pools, hard resets,
and the rule that the policy and arbiter nodes never import mujoco/robosuite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hitl_sim

pytest.importorskip("mujoco")
HERE = Path(__file__).resolve().parent


def _run(env, expert, steps):
    obs, trace = env.observe(), []
    for _ in range(steps):
        obs, info = env.step(expert.act(env.get_state(), obs))
        trace.append((obs.copy(), env.get_state().copy(), info["done"].copy(), info["success"].copy()))
    return trace


def test_backend_resolution(point_task):
    assert hitl_sim.resolve_backend("point") == "mujoco"
    assert hitl_sim.resolve_backend("threading") == "kinematic"  # no MuJoCo model: the kinematic one
    assert hitl_sim.resolve_backend("lift", "kinematic") == "kinematic"
    with pytest.raises(ValueError, match=r"unknown task .threading. for the mujoco backend"):
        hitl_sim.resolve_backend("threading", "mujoco")
    with pytest.raises(ValueError, match="unknown backend"):
        hitl_sim.resolve_backend("lift", "bullet")
    env = hitl_sim.make_env(point_task, "franka", num_envs=2, seed=0)
    assert env.backend == "mujoco" and env.obs_dim == 7
    assert hitl_sim.make_env("lift", "franka", backend="kinematic").backend == "kinematic"
    assert "point" in hitl_sim.task_names("mujoco") and "lift" in hitl_sim.task_names("kinematic")


def test_pool_matches_one_process(point_task):
    """N robots over W worker processes: same observations, states and outcomes as in one process."""
    seq = hitl_sim.make_env(point_task, "franka", num_envs=5, seed=11)
    pool = hitl_sim.make_env(point_task, "franka", num_envs=5, seed=11, workers=2)
    try:
        assert type(pool).__name__ == "MjPoolVecEnv"
        assert np.array_equal(seq.observe(), pool.observe())
        a, b = _run(seq, hitl_sim.make_expert(point_task, noise=0.01, seed=3), 12), _run(
            pool, hitl_sim.make_expert(point_task, noise=0.01, seed=3), 12
        )
        for (o1, s1, d1, k1), (o2, s2, d2, k2) in zip(a, b):
            assert np.array_equal(o1, o2) and np.array_equal(s1, s2)
            assert np.array_equal(d1, d2) and np.array_equal(k1, k2)
        ids, seeds = [1, 4], [7, 8]
        assert np.array_equal(seq.reset(ids, seeds), pool.reset(ids, seeds))
        assert np.array_equal(seq.episode, pool.episode) and np.array_equal(seq.t, pool.t)
        with pytest.raises(ValueError, match="out of range"):
            pool.reset([5])
        with pytest.raises(ValueError, match="NaN"):
            pool.step(np.full((5, 5), np.nan))
    finally:
        pool.close()


def test_hard_reset_rebuilds_and_reproduces(point_task):
    env = hitl_sim.make_env(point_task, "franka", num_envs=2, seed=0)
    soft = env.reset([0], seeds=[5]).copy()
    task_before = env.tasks[0]
    hard = env.reset([0], seeds=[5], hard=True)
    assert env.tasks[0] is not task_before and env.tasks[1] is not None
    assert np.array_equal(soft, hard)


def test_collect_demos_on_mujoco(point_task):
    ds = hitl_sim.collect_demos(point_task, "franka", n_episodes=4, seed=0, num_envs=2, progress=False)
    assert ds.meta["simulator"] == "mujoco" and ds.n_episodes == 4
    assert ds.success.all()  # the expert drives the ball onto the goal
    assert set(ds.expert_id.tolist()) <= {0, 1}  # the task's "mode" state column
    again = hitl_sim.collect_demos(point_task, "franka", n_episodes=4, seed=0, num_envs=2, progress=False, workers=2)
    assert np.array_equal(ds.obs, again.obs) and np.array_equal(ds.expert_id, again.expert_id)


PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    mod = importlib.import_module(name)
    if hasattr(mod, "make_node"):
        mod.make_node()  # the imports a node does when it starts
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("mujoco", "robosuite", "metaworld", "mink"))))
"""


@pytest.mark.parametrize(
    "modules",
    [
        ["hitl_sim"],
        ["hitl_policy.nodes.policy_node", "hitl_policy.nodes.uncertainty_node"],
        ["hitl_teleop.nodes.arbiter_node"],
    ],
)
def test_hot_path_never_imports_mujoco(modules):
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_mujoco_import_in_policy_or_arbiter_sources():
    """No import of the simulators anywhere in the policy package or the arbiter (static check)."""
    src = HERE.parents[1]
    teleop = src / "hitl_teleop" / "hitl_teleop"
    files = [*(src / "hitl_policy" / "hitl_policy").rglob("*.py"), *teleop.glob("arbiter*.py"),
             teleop / "nodes" / "arbiter_node.py"]
    sims = ("mujoco", "robosuite", "metaworld")
    bad = [f for f in files for line in f.read_text().splitlines()
           if line.strip().startswith(("import ", "from ")) and any(m in line for m in sims)]
    assert files and not bad, bad


def test_an_env_used_as_a_context_manager_is_closed_at_the_end(monkeypatch):
    """``with make_env(...) as env`` frees the MuJoCo models when the block ends (robosuite keeps them in
    reference cycles that only a full garbage collection would free)."""
    closed: list[int] = []
    with hitl_sim.make_env("push", "franka", num_envs=2, variant="train", seed=0, backend="mujoco") as env:
        for i, task in enumerate(env.tasks):
            monkeypatch.setattr(task, "close", lambda i=i: closed.append(i))
        env.step(np.zeros((2, env.act_dim), np.float32))
    assert closed == [0, 1]
    with hitl_sim.make_env("lift", "franka", num_envs=1, backend="kinematic") as kin:  # the fixture too
        assert kin.num_envs == 1


def test_collect_demos_on_metaworld_with_its_4d_actions():
    """Metaworld's Sawyer acts with the stack's x, y, z, yaw, gripper (yaw held at 0)."""
    pytest.importorskip("metaworld")
    ds = hitl_sim.collect_demos("button_press", "sawyer", n_episodes=2, seed=0, num_envs=2, progress=False,
                                backend="mujoco")
    assert ds.n_episodes == 2 and ds.action.shape[1] == 5 and ds.success.all() and not ds.action[:, 3].any()
    noisy = hitl_sim.collect_demos("button_press", "sawyer", n_episodes=2, seed=0, num_envs=2, progress=False,
                                   backend="mujoco", dart_noise=0.01)
    assert noisy.action.shape[1] == 5
