"""The planar MuJoCo fleet tasks (hitl_sim/mj/planar.py): push (two ways round) and nav (fork + wind)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from hitl_sim.arms import load_arm_profile
from hitl_sim.mj import MJ_TASKS, expert_class, task_class
from hitl_sim.mj.vec import MjVecEnv

ARM = load_arm_profile("franka")


def make(task: str, variant: str = "train", n: int = 8, seed: int = 0) -> MjVecEnv:
    cls = task_class(task)
    return MjVecEnv(lambda: cls(ARM, variant), ARM, n, seed=seed)


def run(env: MjVecEnv, expert) -> tuple[dict, np.ndarray]:
    """Run every robot to the end of its episode; returns the last info and the states (T, N, S)."""
    obs = env.reset()
    states = []
    info: dict = {}
    while not env.done.all():
        obs, info = env.step(expert.act(env.get_state(), obs))
        states.append(env.get_state())
    return info, np.asarray(states)


@pytest.mark.parametrize("task", ["push", "nav"])
def test_registered_shapes_and_no_hidden_mode_in_the_observation(task):
    assert task in MJ_TASKS
    env = make(task, "test", n=3)
    obs = env.reset()
    assert obs.shape == (3, env.obs_dim) and env.get_state().shape == (3, env.state_dim)
    assert env.action_names == ["x", "y", "z", "yaw", "gripper"]
    assert env.obs_names[:5] == ["ee_x", "ee_y", "ee_z", "ee_yaw", "ee_gripper"]
    for hidden in ("mode", "branch", "wind"):
        assert not any(hidden in name for name in env.obs_names)
    np.testing.assert_allclose(obs[:, :5], env.current_action(), atol=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((3, 5), np.nan))


@pytest.mark.parametrize("task", ["push", "nav"])
def test_same_seed_same_episode(task):
    a, b = make(task, "test", n=4, seed=3), make(task, "test", n=4, seed=3)
    ex_a, ex_b = expert_class(task)(), expert_class(task)()
    _, sa = run(a, ex_a)
    _, sb = run(b, ex_b)
    np.testing.assert_array_equal(sa, sb)


@pytest.mark.parametrize("variant", ["train", "test"])
@pytest.mark.parametrize("task", ["push", "nav"])
def test_expert_succeeds(task, variant):
    env = make(task, variant, n=100, seed=11)
    info, _ = run(env, expert_class(task)())
    assert info["success"].mean() >= 0.95, info["success"].mean()


def test_push_styles_take_different_ways_round_and_their_average_hits_the_obstacle():
    sides = {}
    for style in (0, 1):
        env = make("push", "train", n=40, seed=5)
        info, states = run(env, expert_class("push")(style=style))
        assert info["success"].mean() >= 0.95
        # puck y relative to the obstacle when the puck passes the obstacle's x
        puck, obst = states[..., 0:2], states[..., 6:8]
        at_obstacle = np.abs(puck[..., 0] - obst[..., 0]) < 0.02
        rel_y = np.where(at_obstacle, puck[..., 1] - obst[..., 1], np.nan)
        sides[style] = np.nanmean(rel_y, axis=0)
    assert np.all(sides[0] > 0.08) and np.all(sides[1] < -0.08)

    env = make("push", "train", n=40, seed=5)
    e0, e1 = expert_class("push")(style=0), expert_class("push")(style=1)
    env.reset()
    while not env.done.all():
        s = env.get_state()
        _, info = env.step(0.5 * (e0.act(s) + e1.act(s)))
    assert info["success"].mean() <= 0.1 and info["failed"].mean() >= 0.8


def test_push_expert_recovers_from_a_knocked_puck_and_finishes_the_way_it_started():
    env = make("push", "train", n=30, seed=2)
    ex = expert_class("push")(style=1)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(18):  # style 1 (-y) starts every robot round the bottom
        obs, _ = env.step(ex.act(env.get_state(), obs))
    for task in env.tasks:  # knock the puck: a random shove and the pusher put down somewhere else
        q = task.puck_xy() + rng.uniform(-0.02, 0.02, 2)
        task.data.qpos[task._q_puck] = q
        angle = rng.uniform(-np.pi, np.pi)  # anywhere round the puck, also in front of it
        spot = q + (task.PUCK_R + task.PUSHER_R + 0.02) * np.array([np.cos(angle), np.sin(angle)])
        task.place_pusher(spot)
    committed = np.array([t.puck_xy()[1] - t.centre[1] for t in env.tasks]) < -0.04
    other = expert_class("push")(style=0)  # an operator of the other style takes over
    while not env.done.all():
        obs, info = env.step(other.act(env.get_state(), obs))
    assert info["success"].mean() >= 0.9, info["success"].mean()
    assert committed.mean() >= 0.5  # most pucks were already on the -y way: the new operator kept it


def test_nav_wind_fails_the_expert_that_ignores_it():
    env = make("nav", "test", n=40, seed=1)
    info, _ = run(env, expert_class("nav")(know_wind=False))
    assert info["success"].mean() == 0.0 and info["failed"].mean() >= 0.9
    env = make("nav", "train", n=40, seed=1)
    info, _ = run(env, expert_class("nav")(know_wind=False))
    assert info["success"].mean() >= 0.95


def test_nav_branches_differ():
    ys = []
    for style in (0, 1):
        env = make("nav", "train", n=10, seed=0)
        _, states = run(env, expert_class("nav")(style=style))
        ee, obst = states[..., 15:17], states[..., 2:4]
        beside = np.abs(ee[..., 0] - obst[..., 0]) < 0.01
        ys.append(np.nanmean(np.where(beside, ee[..., 1] - obst[..., 1], np.nan)))
    assert ys[0] > 0.05 and ys[1] < -0.05


def test_speed_limit_and_hold_of_z_yaw_gripper():
    env = make("push", "train", n=1)
    env.reset()
    start = env.current_action()[0]
    target = start.copy()
    target[:2] += [0.3, 0.0]
    target[2:] = [0.5, 1.0, 1.0]  # z, yaw, gripper are held by the planar pusher
    moved = []
    for _ in range(5):
        before = env.current_action()[0]
        env.step(target[None])
        moved.append(np.linalg.norm(env.current_action()[0, :2] - before[:2]))
    assert max(moved) <= ARM.max_step() * 1.1
    np.testing.assert_allclose(env.current_action()[0, 2:], start[2:])
