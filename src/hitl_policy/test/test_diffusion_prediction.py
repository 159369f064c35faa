"""What the noise net predicts (x0 vs epsilon), old checkpoints, the OOD distance's dims, and the
lift regression that made x0 the default."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hitl_policy.checkpoint import load_checkpoint, save_checkpoint
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.synthetic import make_fork_dataset

torch.set_num_threads(1)


def test_prediction_type_is_validated():
    with pytest.raises(ValueError, match="prediction_type"):
        DiffusionPolicy.create(2, 2, prediction_type="velocity")


@pytest.mark.parametrize("prediction_type", ["sample", "epsilon"])
def test_predict_noise_returns_the_noise_for_either_parameterization(prediction_type):
    """predict_noise is epsilon whatever the net predicts (the paper's estimator reads it)."""
    policy = DiffusionPolicy.create(2, 2, prediction_type=prediction_type, hidden=[32, 32], seed=0)
    x = torch.randn(4, policy.horizon, 2)
    cond = torch.randn(4, policy.n_obs * 2)
    t = 30
    raw = policy.net(x, torch.full((4,), t), cond).detach()
    eps = policy.predict_noise(x, t, cond)
    if prediction_type == "epsilon":
        assert torch.allclose(eps, raw)
    else:  # x_t = sqrt(abar) x0 + sqrt(1 - abar) eps must hold with the net's x0
        abar = policy.alphas_cumprod[t]
        assert torch.allclose(abar.sqrt() * raw + (1 - abar).sqrt() * eps, x, atol=1e-5)


def test_checkpoint_without_prediction_type_loads_as_epsilon(tmp_path):
    policy = DiffusionPolicy.create(2, 2, prediction_type="epsilon", hidden=[16, 16])
    path = policy.save(tmp_path / "p.pt")
    payload = load_checkpoint(path)
    config = {k: v for k, v in payload["config"].items() if k != "prediction_type"}
    save_checkpoint(path, payload["kind"], config, payload["state"], **payload["extra"])
    loaded = DiffusionPolicy.load(path)
    assert loaded.config["prediction_type"] == "epsilon"
    x, cond = torch.randn(3, policy.horizon, 2), torch.randn(3, policy.n_obs * 2)
    assert torch.allclose(loaded.predict_noise(x, 5, cond), policy.predict_noise(x, 5, cond))


def test_ood_distance_varying_ignores_entries_constant_in_training():
    ds = make_fork_dataset(6, seed=0)
    ds.obs = np.concatenate([ds.obs, np.zeros((ds.n_steps, 1), np.float32)], 1)  # a constant "object type"
    policy = DiffusionPolicy.create(3, 2, hidden=[16, 16])
    policy.fit(ds, steps=1, batch_size=8, progress=False)
    seen = ds.obs[10 - policy.n_obs + 1 : 11]  # a training history (n_obs consecutive steps)
    new_type = seen.copy()
    new_type[:, 2] = 1.0  # only the constant entry changes
    off_manifold = seen.copy()
    off_manifold[:, 0] += 1.0  # a varying entry leaves the data
    hist = lambda o: o[None]  # noqa: E731
    assert policy.ood_distance(hist(new_type), dims="all")[0] > 0.5
    # the reference is stored rounded to 1e-4 per entry (deduplication): ~1e-4 from a training state
    assert policy.ood_distance(hist(new_type), dims="varying")[0] == pytest.approx(0.0, abs=1e-3)
    assert policy.ood_distance(hist(off_manifold), dims="varying")[0] > 0.5
    with pytest.raises(ValueError, match="dims"):
        policy.ood_distance(hist(seen), dims="some")


@pytest.mark.slow
def test_x0_diffusion_policy_lifts_the_training_cube():
    """100 expert demos, 3000 steps: the x0-predicting policy lifts the cube (epsilon reached 0-43 %
    after 3000-12000 steps on the same data, see docs/uncertainty.md)."""
    from hitl_sim import collect_demos, make_env

    ds = collect_demos("lift", "franka", 100, "train", seed=0, progress=False)
    policy = DiffusionPolicy.create(ds.obs_dim, ds.act_dim, seed=0)
    policy.fit(ds, steps=3000, batch_size=256, progress=False)
    env = make_env("lift", "franka", num_envs=20, variant="train", seed=123)
    obs = env.reset()
    hist = np.repeat(obs[:, None], policy.n_obs, 1)
    success = np.zeros(20, bool)
    plan, k = None, policy.n_action
    for _ in range(env.max_steps):
        if k >= policy.n_action:
            plan, k = policy.predict_chunk(hist), 0
        obs, info = env.step(plan[:, k])
        k += 1
        hist = np.concatenate([hist[:, 1:], obs[:, None]], 1)
        success |= info["success"]
    assert success.mean() >= 0.8


def test_finetuning_adds_the_human_driven_states_to_the_ood_reference():
    from hitl_core.data import SOURCE_HUMAN, SOURCE_ROBOT, EpisodeDataset
    from hitl_policy.learning.finetune import finetune

    demos = make_fork_dataset(6, seed=0)
    policy = DiffusionPolicy.create(2, 2, hidden=[16, 16])
    policy.fit(demos, steps=1, batch_size=8, progress=False)
    # one intervention episode far from the demos: 10 robot steps, then 10 human steps
    obs = np.stack([np.linspace(2.0, 3.0, 20), np.full(20, -1.0)], 1).astype(np.float32)
    source = np.r_[np.full(10, SOURCE_ROBOT), np.full(10, SOURCE_HUMAN)]
    round_1 = EpisodeDataset(obs=obs, action=obs + 0.01, current=obs, episode_ends=[20], source=source)
    hist = lambda i: obs[i - 1 : i + 1][None]  # noqa: E731
    before_human, before_robot = policy.ood_distance(hist(15))[0], policy.ood_distance(hist(5))[0]
    assert before_human > 0.5 and before_robot > 0.5
    tuned, summary = finetune(policy, demos, [round_1], "hg-dagger", steps=2, batch_size=8, progress=False)
    assert summary["ood_reference_added"] == 10
    assert tuned.ood_distance(hist(15))[0] < 0.01  # the human showed this state (reference rounded to 1e-4)
    assert tuned.ood_distance(hist(5))[0] > 0.5  # the robot's own off-data states stay unfamiliar
    assert policy.ood_distance(hist(15))[0] == pytest.approx(before_human)  # the base policy is untouched
