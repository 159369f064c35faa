"""hitl_sim library: API contract, experts, the problems being real, determinism, demo collection."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hitl_sim.collect import collect_demos as _collect_demos
from hitl_sim.collect import main

import hitl_sim

TASKS = hitl_sim.TASK_NAMES
# These are the kinematic simulator's tests (the fast fixture); the MuJoCo tasks have their own modules.
make_env = partial(hitl_sim.make_env, backend="kinematic")
make_expert = partial(hitl_sim.make_expert, backend="kinematic")
collect_demos = partial(_collect_demos, backend="kinematic")


def run(env, expert, obs=None):
    obs = env.reset() if obs is None else obs
    while not env.done.all():
        obs, info = env.step(expert.act(env.get_state(), obs))
    return info


@pytest.mark.parametrize("arm", ["widowx", "franka", "yumi"])
@pytest.mark.parametrize("task", TASKS)
def test_api_shapes_and_names(task, arm):
    env = make_env(task, arm, num_envs=3, variant="test", seed=1)
    n = env.arm.n_arms
    obs = env.reset()
    assert obs.shape == (3, env.obs_dim) == (3, len(env.obs_names))
    assert env.get_state().shape == (3, env.state_dim) == (3, len(env.state_names))
    assert env.current_action().shape == (3, 5 * n) == (3, len(env.action_names))
    assert env.task_name == task and env.variant == "test" and env.dt == pytest.approx(0.1)
    # hidden mode / intent never leaks into the observation
    for hidden in ("intent", "goal_id", "branch", "face_pair", "wind", "noise_key"):
        assert not any(name.startswith(hidden) for name in env.obs_names)
    obs, info = env.step(env.current_action())
    assert set(info) >= {"success", "failed", "done"} and info["done"].shape == (3,)
    assert np.all(env.t == 1)


def test_arm_tracks_targets_under_speed_limit_and_workspace():
    env = make_env("lift", "franka", num_envs=1, seed=0)
    start = env.current_action()[0]
    target = start.copy()
    target[:3] = [2.0, 0.0, start[2]]  # far outside the workspace
    moved = []
    for _ in range(40):
        before = env.ee_pos[0, 0].copy()
        env.step(target[None])
        moved.append(np.linalg.norm(env.ee_pos[0, 0] - before))
    assert max(moved) <= env.arm.max_step() + 1e-9
    assert env.ee_pos[0, 0, 0] == pytest.approx(env.arm.workspace_max[0])
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((1, 5), np.nan))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((1, 4)))


@pytest.mark.parametrize("task", TASKS)
def test_expert_succeeds_on_test_variant(task):
    env = make_env(task, "franka", num_envs=200, variant="test", seed=7)
    info = run(env, make_expert(task))
    assert info["success"].mean() >= 0.98, f"{task}: {info['success'].mean():.3f}"


@pytest.mark.parametrize("variant", ["train", "test"])
@pytest.mark.parametrize("arm", ["widowx", "franka", "yumi"])
@pytest.mark.parametrize("task", TASKS)
def test_expert_succeeds_on_every_arm_and_variant(task, arm, variant):
    env = make_env(task, arm, num_envs=100, variant=variant, seed=3)
    assert run(env, make_expert(task))["success"].mean() >= 0.98


@pytest.mark.parametrize(("task", "opts"), [("lift", {"cube_only": True}), ("nav", {"know_wind": False})])
def test_training_only_behaviour_fails_on_test_variant(task, opts):
    """What only knows the training variant (the cube grasp, no wind) works there and fails at test."""
    scores = {}
    for variant in ("train", "test"):
        env = make_env(task, "franka", num_envs=100, variant=variant, seed=2)
        scores[variant] = run(env, make_expert(task, **opts))["success"].mean()
    assert scores["train"] >= 0.95 and scores["test"] <= 0.2, scores


def test_lift_test_objects_need_another_grasp_that_the_observation_shows():
    env = make_env("lift", "franka", num_envs=60, variant="test", seed=4)
    obs = env.reset()
    feat = obs[:, [env.obs_names.index(f"obj_feature_{i}") for i in range(3)]]
    kinds = obs[:, [env.obs_names.index(f"obj_is_{i}") for i in range(4)]]
    assert np.all(np.abs(feat).sum(1) > 0.01)  # grasp offset or yaw differs from the cube's
    assert kinds[:, 0].sum() == 0 and set(np.argmax(kinds, 1)) == {1, 2, 3}
    train = make_env("lift", "franka", num_envs=20, variant="train", seed=4).reset()
    assert np.allclose(train[:, [env.obs_names.index(f"obj_feature_{i}") for i in range(3)]], 0)


def test_kinematic_nearest_neighbour_policy_from_train_demos_fails_on_test_objects():
    """A behaviour-cloned policy (1-NN on object-relative features) from cube demos: test objects fail."""
    from sklearn.neighbors import KNeighborsRegressor

    ds = collect_demos("lift", "franka", 150, variant="train", seed=0, progress=False)
    names = ds.meta["obs_names"]
    cols = [
        names.index(c)
        for c in ("x", "y", "z", "yaw", "gripper", "obj_pos_0", "obj_pos_1", "obj_pos_2", "obj_yaw")
    ]

    def feats(o):
        f = o[:, cols].astype(float).copy()
        f[:, :3] -= f[:, 5:8]  # end effector relative to the object
        return np.delete(f, [5, 6, 7], 1)

    def target(o, a):
        return np.concatenate([a[:, :3] - o[:, [cols[5], cols[6], cols[7]]], a[:, 3:]], 1)

    knn = KNeighborsRegressor(3).fit(feats(ds.obs), target(ds.obs, ds.action))
    scores = {}
    for variant in ("train", "test"):
        env = make_env("lift", "franka", num_envs=40, variant=variant, seed=11)
        obs = env.reset()
        while not env.done.all():
            rel = knn.predict(feats(obs))
            act = rel.copy()
            act[:, :3] += obs[:, [cols[5], cols[6], cols[7]]]
            obs, info = env.step(act)
        scores[variant] = info["success"].mean()
    assert scores["train"] >= 0.8 and scores["test"] <= 0.2, scores


@pytest.mark.parametrize(("task", "n_modes"), [("drawer", 3), ("push3", 3), ("nav", 2), ("cube_stack", 2)])
def test_multimodal_demos_split_evenly_and_mode_is_not_observable(task, n_modes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    ds = collect_demos(task, "franka", 240, variant="train", seed=5, progress=False)
    counts = np.bincount(ds.expert_id, minlength=n_modes)
    assert counts.min() >= 0.7 * 240 / n_modes, counts
    assert ds.success.mean() >= 0.98
    first = ds.obs[ds.episode_starts()]
    acc = cross_val_score(LogisticRegression(max_iter=500), first, ds.expert_id, cv=4).mean()
    assert acc < 1.0 / n_modes + 0.15, acc  # the mode cannot be read from the initial observation


def test_styles_select_the_mode():
    for task, n in (("drawer", 3), ("push3", 3), ("nav", 2), ("cube_stack", 2)):
        for style in range(n):
            env = make_env(task, "franka", num_envs=20, variant="train", seed=9)
            env.reset()
            mode = env.task.state_layout.view(env.ts, env.task.mode_field).copy()
            env.task.state_layout.view(env.ts, env.task.mode_field)[:] = style  # what the operator intends
            info = run(env, make_expert(task, style=style), env.observe())
            assert info["success"].mean() >= 0.95, (task, style)
            assert mode.min() >= 0
        with pytest.raises(ValueError, match="styles"):
            make_expert(task, style=n)


def test_cup_stack_occlusion_removes_target_information():
    ds = collect_demos("cup_stack", "franka", 120, variant="train", seed=1, progress=False)
    names = ds.meta["obs_names"]
    env = make_env("cup_stack", "franka", num_envs=120, variant="train", seed=1)
    occ = ds.obs[:, names.index("occluded")] > 0.5
    assert 0.05 < occ.mean() < 0.6
    seen = ds.obs[:, [names.index("b_seen_0"), names.index("b_seen_1")]]
    ee = ds.obs[:, [names.index("x"), names.index("y")]]
    # true target per step: the unoccluded observation of the same episode
    ep = ds.episode_index()
    true = np.zeros_like(seen)
    for e in range(ds.n_episodes):
        rows = ep == e
        true[rows] = seen[rows & ~occ][0]
    rel_seen, rel_true = seen[occ] - ee[occ], true[occ] - ee[occ]
    for k in range(2):
        r = np.corrcoef(rel_seen[:, k], rel_true[:, k])[0, 1]
        assert abs(r) < 0.25, r  # occluded: what is seen says nothing about where the target is
    assert np.allclose(seen[~occ], true[~occ])
    assert env.obs_dim == ds.obs_dim


@pytest.mark.parametrize("task", TASKS)
def test_vectorized_equals_one_by_one_and_seeds_reproduce(task):
    seeds = [11, 12, 13]
    rng = np.random.default_rng(0)
    vec = make_env(task, "yumi", num_envs=3, variant="test")
    singles = [make_env(task, "yumi", num_envs=1, variant="test") for _ in seeds]
    ov = vec.reset(seeds=seeds)
    os_ = [e.reset(seeds=[s]) for e, s in zip(singles, seeds)]
    expert = make_expert(task)
    for step in range(60):
        act = expert.act(vec.get_state(), ov) + rng.normal(0, 0.01, (3, vec.act_dim)) * (step % 3 == 0)
        if step == 30:  # reset robot 1 mid-way, in both
            ov = vec.reset(ids=[1], seeds=[99])
            os_[1] = singles[1].reset(seeds=[99])
            act = expert.act(vec.get_state(), ov)
        ov, _ = vec.step(act)
        for i, e in enumerate(singles):
            os_[i], _ = e.step(act[i : i + 1])
    for i, e in enumerate(singles):
        assert np.array_equal(ov[i], os_[i][0])
        assert np.array_equal(vec.get_state()[i], e.get_state()[0])
    again = make_env(task, "yumi", num_envs=3, variant="test")
    assert np.array_equal(again.reset(seeds=seeds), vec.reset(seeds=seeds))


def test_done_robots_are_frozen_until_reset():
    env = make_env("lift", "franka", num_envs=2, seed=0)
    env.max_steps = 3
    for _ in range(3):
        env.step(env.current_action() + np.array([0.02, 0, 0, 0, 0]))
    assert env.done.all()
    state = env.get_state().copy()
    env.step(env.current_action() + np.array([0.02, 0, 0, 0, 0]))
    assert np.array_equal(state, env.get_state())
    env.reset(ids=[0])
    assert not env.done[0] and env.done[1] and env.t[0] == 0


@pytest.mark.parametrize("task", TASKS)
def test_expert_takes_over_from_a_perturbed_state(task):
    """Random wandering first (as a bad policy would), then the expert finishes most non-failed episodes."""
    env = make_env(task, "franka", num_envs=60, variant="test", seed=3)
    rng = np.random.default_rng(1)
    obs = env.reset()
    expert = make_expert(task)
    for _ in range(12):
        a = expert.act(env.get_state(), obs)
        a[:, :3] += rng.normal(0, 0.04, (60, 3))
        a[:, 4] = rng.uniform(0, 1, 60)
        obs, info = env.step(a)
    alive = ~env.done
    info = run(env, expert, obs)
    assert alive.sum() >= 20
    assert info["success"][alive].mean() >= 0.9, info["success"][alive].mean()


@pytest.mark.parametrize(
    ("task", "needle"), [("lift", "obj_knocked"), ("drawer", "crashed"), ("threading", "fallen")]
)
def test_failures_are_flagged(task, needle):
    env = make_env(task, "franka", num_envs=1, variant="test", seed=0)
    env.reset()
    L = env.task.state_layout
    st = env.get_state()[0]
    if task == "lift":  # drive the open fingers straight down at the object's origin with a wrong yaw
        pos = st[L.slices["obj_pos"]]
        tgt = np.r_[pos[:2], 0.02, 0.75, 0.0]
    elif task == "drawer":
        tgt = np.r_[st[L.slices["front_x"]][0] + 0.05, st[L.slices["cab_y"]][0], 0.1, 0, 0]
    else:
        L.view(env.ts, "ring_pos")[:, :2] += 0.03
        tgt = env.current_action()[0]
    for _ in range(40):
        _, info = env.step(tgt[None])
        if info["done"][0]:
            break
    assert info["failed"][0] and not info["success"][0]
    assert L.view(env.ts, needle)[0] > 0.5


def test_collect_demos_dataset_and_cli(tmp_path):
    ds = collect_demos("push3", "yumi", 6, variant="train", seed=0, num_envs=4, progress=False)
    assert ds.n_episodes == 6 and ds.act_dim == 10 and ds.meta["action_names"][0] == "left_x"
    assert ds.meta["task"] == "push3" and ds.meta["dt"] == pytest.approx(0.1)
    ds2 = collect_demos("push3", "yumi", 6, variant="train", seed=0, num_envs=4, progress=False)
    assert np.array_equal(ds.obs, ds2.obs) and np.array_equal(ds.expert_id, ds2.expert_id)
    # current is the arm pose before each step: the next row's current is where the action led
    sl = ds.episode_slices()[0]
    assert np.allclose(ds.current[sl][0, :3], hitl_sim.load_arm_profile("yumi").home[0])
    out = tmp_path / "demos.npz"
    assert (
        main(["--task", "lift", "--backend", "kinematic", "--arm", "widowx", "--episodes", "5", "--out", str(out),
              "--no-progress"])
        == 0
    )
    from hitl_core.data import EpisodeDataset

    loaded = EpisodeDataset.load(out)
    assert loaded.n_episodes == 5 and loaded.meta["arm"] == "widowx" and loaded.success.all()
    assert (
        main(
            [
                "--task",
                "lift",
                "--variant",
                "nope",
                "--episodes",
                "2",
                "--out",
                str(tmp_path / "x.npz"),
                "--no-progress",
            ]
        )
        == 2
    )


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="unknown task"):
        make_env("juggle")
    with pytest.raises(ValueError, match="unknown arm"):
        make_env("lift", arm="ur5")
    with pytest.raises(ValueError, match="variant"):
        make_env("lift", variant="hard")
    with pytest.raises(ValueError, match="columns"):
        make_expert("lift").act(np.zeros((2, 3)))


@pytest.mark.parametrize("task", [t for t in TASKS if t != "nav"])
def test_noisy_expert_still_succeeds(task):
    """Operator noise (5 mm) makes demos imperfect but not useless (nav's 6 mm corridor is the exception)."""
    env = make_env(task, "franka", num_envs=100, variant="test", seed=0)
    info = run(env, make_expert(task, noise=0.005, seed=1))
    assert info["success"].mean() >= 0.9


def test_dart_noise_perturbs_the_visited_states_but_records_clean_expert_labels():
    clean = collect_demos("lift", "franka", 4, "train", seed=0, progress=False)
    dart = collect_demos("lift", "franka", 4, "train", seed=0, progress=False, dart_noise=0.003)
    assert dart.meta["dart_noise"] == 0.003
    n = min(clean.n_steps, dart.n_steps)
    assert not np.allclose(clean.obs[:n], dart.obs[:n])  # the executed noise moved the arm elsewhere
    # every recorded label is the noise-free expert's action at the state it was recorded in
    env = make_env("lift", "franka", num_envs=4, variant="train", seed=0)
    expert = make_expert("lift")
    first = dart.episode_starts()
    env.reset()
    state = env.get_state()
    assert np.allclose(dart.action[first[:1]], expert.act(state[:1]), atol=1e-6)
