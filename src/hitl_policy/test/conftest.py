"""Fixtures shared by hitl_policy's tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import hitl_policy.models.diffusion as diffusion_mod
import hitl_policy.models.nets as nets_mod
import hitl_policy.synthetic as synthetic_mod
import pytest
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.synthetic import make_fork_dataset

FORK_CONFIG = {
    "n_obs": 2,
    "horizon": 8,
    "n_action": 4,
    "hidden": [256, 256, 256],
    "lr": 3e-3,
    "num_inference_steps": 8,
    "seed": 0,
}
FORK_STEPS = 3000


@pytest.fixture(scope="session")
def fork_policy(request) -> DiffusionPolicy:
    """A small MLP diffusion policy trained on the 2-D fork (~40-100 s once; then cached on disk under
    .pytest_cache, keyed by the config and the source of the model, nets and data code). Used by
    test_diffusion.py and test_denoising.py."""
    src = b"".join(Path(m.__file__).read_bytes() for m in (diffusion_mod, nets_mod, synthetic_mod))
    key = hashlib.sha256(src + json.dumps([FORK_CONFIG, FORK_STEPS]).encode()).hexdigest()[:16]
    path = Path(request.config.cache.mkdir("hitl_fork_diffusion")) / f"fork_{key}.pt"
    if path.exists():
        return DiffusionPolicy.load(path)
    policy = DiffusionPolicy.create(2, 2, **FORK_CONFIG)
    policy.fit(make_fork_dataset(60, seed=0), FORK_STEPS, batch_size=256, progress=False)
    policy.save(path)
    return policy
