"""Deploy-time sampling settings change how a loaded policy samples (and cost), never its weights."""

import time

import numpy as np
import pytest
import torch
from hitl_policy.inference_settings import apply_inference_settings
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.models.ebm import EBMPolicy


def _best_time(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def test_ebm_settings_reduce_the_sampling_work():
    torch.set_num_threads(1)
    policy = EBMPolicy(4, 2, {"hidden": [64, 64], "inference_counter_examples": 256, "langevin_iterations": 40})
    weights = [p.detach().clone() for p in policy.parameters()]
    h = np.zeros((1, 1, 4), np.float32)
    slow = _best_time(lambda: policy.predict_chunk(h))
    assert apply_inference_settings(policy, {"inference_counter_examples": 32, "langevin_iterations": 5}) == {
        "inference_counter_examples": 32, "langevin_iterations": 5}
    fast = _best_time(lambda: policy.predict_chunk(h))
    assert fast < slow / 4  # 64x less sampling work; generous for a busy machine
    assert policy.predict_chunk(h).shape == (1, 1, 2)
    assert all(torch.equal(a, b) for a, b in zip(weights, policy.parameters(), strict=True))


def test_diffusion_steps_change_the_scheduler():
    policy = DiffusionPolicy.create(3, 2, hidden=[16, 16], num_inference_steps=10)
    apply_inference_settings(policy, {"num_inference_steps": 3})
    assert len(policy.sample_scheduler.timesteps) == 3 and policy.config["num_inference_steps"] == 3
    assert policy.predict_chunk(np.zeros((1, policy.n_obs, 3), np.float32)).shape[-1] == 2


@pytest.mark.parametrize(("settings", "match"), [
    ({"langevin_iterations": 0}, "integer >= 1"),
    ({"langevin_iterations": 2.5}, "integer >= 1"),
    ({"langevin_iterations": True}, "integer >= 1"),
    ({"inference_select": "best"}, "'argmax' or 'sample'"),
    ({"num_inference_steps": 5}, "allowed: \\['inference_counter_examples'"),
])
def test_bad_ebm_settings_are_clear_errors_and_change_nothing(settings, match):
    policy = EBMPolicy(4, 2, {"hidden": [8]})
    before = dict(policy.config)
    with pytest.raises(ValueError, match=match):
        apply_inference_settings(policy, settings)
    assert policy.config == before


def test_diffusion_steps_cannot_exceed_training_steps():
    policy = DiffusionPolicy.create(3, 2, hidden=[16, 16], num_train_timesteps=20)
    with pytest.raises(ValueError, match="<= num_train_timesteps"):
        apply_inference_settings(policy, {"num_inference_steps": 50})
