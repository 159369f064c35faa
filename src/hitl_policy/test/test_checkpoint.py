"""Diffusion checkpoints: round trip, and one-line errors naming the file for every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hitl_policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.registry import load_policy
from hitl_policy.synthetic import make_fork_dataset

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    policy = DiffusionPolicy.create(
        2, 2, hidden=[32, 32], horizon=4, n_action=2, num_inference_steps=4, seed=5
    )
    policy.fit(make_fork_dataset(4, seed=0), 20, batch_size=32, progress=False)
    path = policy.save(tmp_path_factory.mktemp("ckpt") / "fork.pt")
    return policy, path


def _one_line_naming(exc: pytest.ExceptionInfo, path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_round_trip_keeps_weights_config_and_normalizers(trained):
    policy, path = trained
    loaded = DiffusionPolicy.load(path)
    assert loaded.config == policy.config and (loaded.obs_dim, loaded.act_dim) == (2, 2)
    np.testing.assert_array_equal(loaded.action_normalizer.scale, policy.action_normalizer.scale)
    np.testing.assert_array_equal(loaded.obs_normalizer.offset, policy.obs_normalizer.offset)
    torch.testing.assert_close(loaded.obs_reference, policy.obs_reference)
    x, cond = torch.randn(3, 4, 2), torch.randn(3, 4)
    torch.testing.assert_close(loaded.predict_noise(x, 7, cond), policy.predict_noise(x, 7, cond))
    assert loaded.train_steps == 20 and load_checkpoint(path)["format_version"] >= 1
    assert isinstance(load_policy(path), DiffusionPolicy)


def test_missing_file(tmp_path):
    path = tmp_path / "none.pt"
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(path)
    assert "not found" in _one_line_naming(exc, path)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_file(trained, tmp_path, keep):
    _, good = trained
    data = good.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(path)
    msg = _one_line_naming(exc, path)
    assert "empty" in msg or "truncated" in msg


def test_wrong_kind(tmp_path):
    path = save_checkpoint(tmp_path / "ebm.pt", "ebm", {"obs_dim": 2}, {"net": {}})
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(path)
    msg = _one_line_naming(exc, path)
    assert "'ebm'" in msg and "'diffusion'" in msg


def test_mismatched_weights_and_format_version(trained, tmp_path):
    policy, _ = trained
    other = DiffusionPolicy.create(2, 2, hidden=[8], horizon=4, n_action=2)
    state = {
        "net": other.net.state_dict(),
        "obs_normalizer": other.obs_normalizer.state_dict(),
        "action_normalizer": other.action_normalizer.state_dict(),
    }
    path = save_checkpoint(
        tmp_path / "mix.pt", "diffusion", {"obs_dim": 2, "act_dim": 2, **policy.config}, state
    )
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(path)
    assert "does not match" in _one_line_naming(exc, path)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(tmp_path / "future.pt")
    assert "format 99" in _one_line_naming(exc, tmp_path / "future.pt")
    bad_cfg = save_checkpoint(
        tmp_path / "cfg.pt", "diffusion", {"obs_dim": 2, "act_dim": 2, "bogus": 1}, state
    )
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(bad_cfg)
    assert "bogus" in _one_line_naming(exc, bad_cfg)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"hello, not a zip" * 10)
    with pytest.raises(CheckpointError) as exc:
        DiffusionPolicy.load(path)
    _one_line_naming(exc, path)
