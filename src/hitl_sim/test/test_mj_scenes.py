"""MuJoCo scenes: Metaworld drawer_open/peg_insert/button_press, the three-drawer cabinet and cup_stack.

Metaworld tests are fast (a Metaworld env builds in well under a second); the robosuite scenes
(drawer, cup_stack) build a robosuite model each and step at tens of ms, so they are marked slow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hitl_sim.arms import load_arm_profile
from hitl_sim.mj import MJ_TASKS, expert_class, task_class
from hitl_sim.mj.vec import MjVecEnv

METAWORLD = ("drawer_open", "peg_insert", "button_press")


def mj_env(task: str, arm: str = "sawyer", variant: str = "train", n: int = 1, seed: int = 0) -> MjVecEnv:
    profile = load_arm_profile(arm)
    cls = task_class(task)
    return MjVecEnv(lambda: cls(profile, variant), profile, num_envs=n, seed=seed)


def run_expert(env: MjVecEnv, expert, steps: int | None = None) -> tuple[list[np.ndarray], dict]:
    obs = env.observe()
    seen, info = [obs], {}
    t = 0
    while not env.done.all() and (steps is None or t < steps):
        obs, info = env.step(expert.act(env.get_state(), obs))
        seen.append(obs)
        t += 1
    return seen, info


def assert_expert_replays_identically(env: MjVecEnv, task: str, seed: int, steps: int) -> None:
    """Two expert runs from the same seed see the same observations."""
    ex = expert_class(task)()
    out = []
    for _ in range(2):
        env.reset(seeds=[seed])
        seen, _ = run_expert(env, ex, steps=steps)
        out.append(np.stack(seen))
    np.testing.assert_array_equal(out[0], out[1])


def test_registry_lists_the_scene_tasks():
    for name in (*METAWORLD, "drawer", "cup_stack"):
        assert name in MJ_TASKS
    assert task_class("drawer_open").arms == ("sawyer",)  # Metaworld's robot is always its Sawyer


# ------------------------------------------------------------------------------------------- Metaworld
@pytest.mark.parametrize("task", METAWORLD)
def test_metaworld_expert_succeeds_through_absolute_targets(task):
    env = mj_env(task, n=1, seed=3)
    expert = expert_class(task)()
    wins = 0
    for _ in range(5):
        env.reset()
        _seen, info = run_expert(env, expert)
        wins += int(info["success"][0])
    assert wins == 5
    assert env.act_dim == 5 and env.action_names == ["x", "y", "z", "yaw", "gripper"]
    assert env.obs_dim == 15 and env.obs_names[:5] == ["x", "y", "z", "yaw", "gripper"]
    env.close()


def test_metaworld_absolute_targets_reproduce_metaworld_deltas():
    """Our absolute target -> delta conversion gives the trajectory of Metaworld's own delta stepping."""
    from hitl_sim.mj.metaworld_tasks import _quiet_make
    from metaworld.policies import SawyerDrawerOpenV3Policy

    env = mj_env("drawer_open", seed=5)
    task = env.tasks[0]
    raw = _quiet_make("drawer-open-v3", seed=0)
    raw._last_rand_vec = task.env._last_rand_vec.copy()
    o, _ = raw.reset()
    np.testing.assert_allclose(o, env.get_state()[0, :39], atol=1e-12)
    policy, expert = SawyerDrawerOpenV3Policy(), expert_class("drawer_open")()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(60):
            o, *_ = raw.step(np.clip(policy.get_action(o), -1, 1))
            env.step(expert.act(env.get_state()))
    np.testing.assert_allclose(env.get_state()[0, :39], o, atol=1e-6)


def test_metaworld_determinism_and_reseeding():
    a, b = mj_env("peg_insert", n=2, seed=11), mj_env("peg_insert", n=2, seed=11)
    ex = expert_class("peg_insert")()
    sa, _ = run_expert(a, ex, steps=40)
    sb, _ = run_expert(b, ex, steps=40)
    np.testing.assert_array_equal(np.stack(sa), np.stack(sb))
    assert not np.array_equal(sa[0][0], sa[0][1])  # robots draw their own episodes
    first = a.reset(ids=[0], seeds=[99])[0].copy()
    again = a.reset(ids=[0], seeds=[99])[0]
    np.testing.assert_array_equal(first, again)


def test_metaworld_observation_is_what_a_camera_sees():
    env = mj_env("peg_insert", seed=1)
    obs, state = env.observe()[0], env.get_state()[0]
    np.testing.assert_allclose(obs[5:8], state[4:7], atol=1e-6)  # peg position
    np.testing.assert_allclose(obs[12:15], state[36:39], atol=1e-6)  # the hole
    assert obs[3] == 0.0  # yaw: the Sawyer's hand never turns
    assert obs[4] == pytest.approx(1 - state[3], abs=1e-6)  # gripper 0 open .. 1 closed
    assert len(env.state_names) == 42 and env.state_names[-3:] == ["mocap_x", "mocap_y", "mocap_z"]


def test_peg_guard_changes_only_the_slipped_grasp_state():
    ex = expert_class("peg_insert")()
    o = np.zeros(39)
    o[0:3], o[3], o[4:7] = (0.0, 0.9, 0.092), 0.3, (0.0, 0.915, 0.092 - 0.027)  # held, slipped 2.7 cm below
    view = ex.policy_view(o)
    assert view[6] == pytest.approx(0.092 - 0.024)
    o_open = o.copy()
    o_open[3] = 1.0  # fingers open: not held, passed through
    np.testing.assert_array_equal(ex.policy_view(o_open), o_open)
    o_ok = o.copy()
    o_ok[6] = 0.092 - 0.02  # within Metaworld's own tolerance: passed through
    np.testing.assert_array_equal(ex.policy_view(o_ok), o_ok)


@pytest.mark.parametrize("bad", ["shape", "nan", "inf"])
def test_bad_actions_rejected_and_episode_kept(bad):
    env = mj_env("button_press", n=2, seed=2)
    env.step(env.current_action())
    before_state, before_t = env.get_state(), env.t.copy()
    a = env.current_action()
    if bad == "shape":
        a = a[:, :3]
    else:
        a[1, 2] = np.nan if bad == "nan" else np.inf
    with pytest.raises(ValueError, match=r"shape|NaN"):
        env.step(a)
    np.testing.assert_array_equal(env.get_state(), before_state)
    np.testing.assert_array_equal(env.t, before_t)
    env.step(env.current_action())  # the episode goes on
    assert (env.t == before_t + 1).all()


def test_metaworld_scene_items_from_geoms():
    env = mj_env("drawer_open")
    items = env.scene()
    assert len(items) >= 3
    for it in items:
        assert it.shape in ("box", "cylinder", "sphere") and np.all(np.isfinite(it.pos)) and min(it.size) >= 0
    handle = env.observe()[0, 5:8]
    assert min(np.linalg.norm(np.array(it.pos) - handle) for it in items) < 0.15


# -------------------------------------------------------------------------------------------- drawer
@pytest.fixture(scope="module")
def drawer_env():
    env = mj_env("drawer", arm="franka", variant="train", seed=0)
    yield env
    env.close()


@pytest.mark.slow
def test_drawer_intent_is_not_observed(drawer_env):
    env, task = drawer_env, drawer_env.tasks[0]
    env.reset(seeds=[4])
    actions = [env.current_action() + np.array([[0.02 * k, 0.01, -0.01 * k, 0.0, 0.0]]) for k in range(5)]
    runs = []
    for intent in (0, 2):
        env.reset(seeds=[4])
        task.intent = intent
        obs = [env.observe()]
        for a in actions:
            obs.append(env.step(a)[0])
        runs.append(np.stack(obs))
        assert env.get_state()[0, 6] == intent  # the state holds it, the observation does not
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not any("intent" in n for n in env.obs_names)


@pytest.mark.slow
def test_drawer_determinism(drawer_env):
    assert_expert_replays_identically(drawer_env, "drawer", seed=7, steps=25)


@pytest.mark.slow
@pytest.mark.parametrize("style", [0, 1, 2])
def test_drawer_expert_opens_each_drawer(drawer_env, style):
    env, task = drawer_env, drawer_env.tasks[0]
    env.reset(seeds=[20 + style])
    task.intent = style
    _seen, info = run_expert(env, expert_class("drawer")(style=style))
    assert info["success"][0] and not info["failed"][0]
    op = task.openings()
    assert op[style] >= 0.12 and np.delete(op, style).max() < 0.05


@pytest.mark.slow
def test_drawer_expert_closes_a_half_open_wrong_drawer_first(drawer_env):
    env, task = drawer_env, drawer_env.tasks[0]
    env.reset(seeds=[31])
    task.intent = 1
    task.set_openings([0.04, 0.0, 0.0])  # the wrong drawer half open, as a policy may leave it
    assert not any(task.evaluate())
    ex = expert_class("drawer")()
    closed_first = False
    while not env.done[0]:
        env.step(ex.act(env.get_state()))
        op = task.openings()
        if op[0] < 0.008 and op[1] < 0.01:
            closed_first = True
    assert closed_first
    assert env.success[0] and task.openings()[0] < 0.01


@pytest.mark.slow
def test_drawer_success_and_failure_rules(drawer_env):
    env, task = drawer_env, drawer_env.tasks[0]
    env.reset(seeds=[2])
    task.intent = 2
    task.set_openings([0.0, 0.049, 0.119])
    assert task.evaluate() == (False, False)
    task.set_openings([0.0, 0.0, 0.121])
    assert task.evaluate() == (True, False)
    task.set_openings([0.06, 0.0, 0.0])
    assert task.evaluate() == (False, True)


@pytest.mark.slow
def test_drawer_scene_has_the_cabinet(drawer_env):
    items = drawer_env.scene()
    assert items[0].name == "table" and len(items) > 10
    cab = drawer_env.observe()[0, 5:7]
    near = [it for it in items[1:] if np.linalg.norm(np.array(it.pos[:2]) - cab) < 0.35]
    assert len(near) == len(items) - 1


# ----------------------------------------------------------------------------------------- cup_stack
@pytest.fixture(scope="module")
def cup_env():
    env = mj_env("cup_stack", arm="franka", variant="train", seed=0)
    yield env
    env.close()


def _names(env, *cols):
    return [env.obs_names.index(c) for c in cols]


@pytest.mark.slow
def test_cup_stack_occlusion_keeps_the_last_seen_value(cup_env):
    env, task = cup_env, cup_env.tasks[0]
    env.reset(seeds=[3])
    seen_cols = _names(env, "b_seen_x", "b_seen_y", "b_seen_z")
    occ_col = env.obs_names.index("occluded")
    ex = expert_class("cup_stack")()
    obs = env.observe()
    np.testing.assert_allclose(obs[0, seen_cols], task.b.pos(), atol=1e-6)
    while not env.done[0] and obs[0, occ_col] < 0.5:
        obs, _ = env.step(ex.act(env.get_state()))
    assert obs[0, occ_col] == 1.0 and task.held()
    last = obs[0, seen_cols].copy()
    while np.linalg.norm(task.a.pos()[:2] - task.b.pos()[:2]) > 0.02:  # carried on over B: still hidden
        obs, _ = env.step(ex.act(env.get_state()))
        assert obs[0, occ_col] == 1.0 and not env.done[0]
        np.testing.assert_array_equal(obs[0, seen_cols], last)
    # B is bumped while hidden: the observation keeps the last seen position, the state has the truth
    b = task.b.pos()
    task.b.set_pose(b + np.array([0.025, 0.0, 0.0]), np.eye(3))
    task.env.sim.forward()
    obs, _ = env.step(env.current_action())
    assert obs[0, occ_col] == 1.0
    np.testing.assert_array_equal(obs[0, seen_cols], last)
    assert np.linalg.norm(env.get_state()[0, 11:14] - last) > 0.02
    # carry A away: B is seen again where it now is
    a = env.current_action()
    a[0, 1] -= 0.15
    a[0, 2] = 0.2
    for _ in range(12):
        obs, _ = env.step(a)
    assert obs[0, occ_col] == 0.0
    np.testing.assert_allclose(obs[0, seen_cols], task.b.pos(), atol=1e-6)


@pytest.mark.slow
def test_cup_stack_determinism(cup_env):
    assert_expert_replays_identically(cup_env, "cup_stack", seed=8, steps=30)


@pytest.mark.slow
def test_cup_stack_expert_succeeds_and_regrasps_a_dropped_cup(cup_env):
    env, task = cup_env, cup_env.tasks[0]
    ex = expert_class("cup_stack")()
    env.reset(seeds=[5])
    _seen, info = run_expert(env, ex)
    assert info["success"][0]
    # inject a drop: once A is carried 3 cm up, open the hand over the table
    env.reset(seeds=[6])
    while not (task.held() and task.a.pos()[2] > 0.03):
        assert not env.done[0]
        env.step(ex.act(env.get_state()))
    a = env.current_action()
    a[0, 4] = 0.0
    for _ in range(8):
        env.step(a)
    assert not task.held() and task.a.pos()[2] < 0.01 and not env.done[0]
    _seen, info = run_expert(env, ex)
    assert info["success"][0]


@pytest.mark.slow
def test_cup_stack_observation_has_no_identity_or_grasp_hint(cup_env):
    names = cup_env.obs_names
    assert not any(k in n for n in names for k in ("grasp", "type", "held", "tilt"))
    assert "occluded" in names


@pytest.mark.slow
def test_drawer_render_gives_an_image_or_a_reason(drawer_env):
    img = drawer_env.render(0, 64, 48)
    task = drawer_env.tasks[0]
    if img is None:
        assert task.render_error
    else:
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 0
