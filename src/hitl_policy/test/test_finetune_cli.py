"""finetune improves a weak policy on a tiny task; the hitl_finetune CLI runs end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hitl_core.data import SOURCE_HUMAN, SOURCE_ROBOT, EpisodeDataset
from hitl_policy.cli.finetune import main
from hitl_policy.learning.finetune import finetune
from hitl_policy.learning.gaussian_policy import GaussianMLPPolicy

torch.set_num_threads(1)


def target(s: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(3 * s[:, 0]), s[:, 1] ** 2], 1).astype(np.float32)


def episodes(s: np.ndarray, act: np.ndarray, source: np.ndarray | int, robot=None) -> EpisodeDataset:
    return EpisodeDataset(obs=s, action=act, current=act, episode_ends=np.arange(10, len(s) + 1, 10),
                          source=np.broadcast_to(source, len(s)).copy(), robot_action=robot)


@pytest.fixture(scope="module")
def tiny():
    """Demos only cover s0 < 0; the rounds record a weak robot on s0 > 0 with human corrections."""
    rng = np.random.default_rng(0)
    s_demo = np.stack([rng.uniform(-1, 0, 200), rng.uniform(-1, 1, 200)], 1).astype(np.float32)
    demos = episodes(s_demo, target(s_demo), SOURCE_HUMAN)
    s_round = np.stack([rng.uniform(0, 1, 200), rng.uniform(-1, 1, 200)], 1).astype(np.float32)
    human = rng.random(200) < 0.4
    robot = np.zeros_like(target(s_round))
    act = np.where(human[:, None], target(s_round), robot)
    rnd = episodes(s_round, act, np.where(human, SOURCE_HUMAN, SOURCE_ROBOT), robot)
    base = GaussianMLPPolicy.create(2, 2, hidden=(64, 64), seed=0)
    base.fit(demos, 300, 64, progress=False)
    s_test = np.stack([rng.uniform(0, 1, 300), rng.uniform(-1, 1, 300)], 1).astype(np.float32)
    return base, demos, rnd, s_test


def error(policy, s) -> float:
    return float(np.abs(policy.predict_chunk(s[:, None])[:, 0] - target(s)).mean())


@pytest.mark.parametrize("method", ["iwr", "hg-dagger", "mix"])
def test_finetune_improves_weak_policy(tiny, method):
    base, demos, rnd, s_test = tiny
    before = error(base, s_test)
    tuned, summary = finetune(base, demos, [rnd], method, steps=300, batch_size=64, lr=1e-3, progress=False)
    assert error(tuned, s_test) < 0.75 * before, (method, before, error(tuned, s_test))
    assert error(base, s_test) == before  # the base policy is not modified
    assert summary["steps_by_role"] == {"pretrain": 200, "human": int((rnd.source == 1).sum()),
                                        "robot": int((rnd.source == 0).sum()), "paused": 0}


@pytest.mark.parametrize(("method", "fractions", "groups"), [
    ("iwr", {"intervention": 0.5, "robot": 0.5}, ("pretrain+human", "robot")),  # IWR's equal-size batches
    ("iwr-nb", {"all": 1.0}, ("pretrain+human+robot",)),                      # the same steps, uniform
    ("hg-dagger", {"human": 1.0}, ("pretrain+human",)),                       # robot steps dropped
])
def test_finetune_works_with_the_diffusion_policy(tiny, method, fractions, groups):
    """The eval's T3 fine-tunes the diffusion policy through these same paths."""
    from hitl_policy.models.diffusion import DiffusionPolicy

    _, demos, rnd, _ = tiny
    pol = DiffusionPolicy.create(2, 2, n_obs=1, horizon=2, n_action=1, hidden=[32, 32])
    pol.fit(demos, 2, 16, progress=False)
    before = [p.detach().clone() for p in pol.parameters()]
    tuned, summary = finetune(pol, demos, [rnd], method, steps=3, batch_size=16, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, tuned.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before, pol.parameters()))  # the base is left alone
    assert summary["batch_fractions"] == fractions
    n = {"pretrain": demos.n_steps, "human": int((rnd.source == SOURCE_HUMAN).sum()),
         "robot": int((rnd.source == SOURCE_ROBOT).sum())}
    assert list(summary["groups"].values()) == [sum(n[k] for k in g.split("+")) for g in groups]


def test_finetune_does_not_depend_on_what_ran_before_it(tiny):
    """The diffusion policy's training noise comes from torch's global generator: finetune seeds it from
    ``seed`` (same policy whatever ran before) and leaves the caller's generator where it was."""
    from hitl_policy.models.diffusion import DiffusionPolicy

    _, demos, rnd, _ = tiny
    pol = DiffusionPolicy.create(2, 2, n_obs=1, horizon=2, n_action=1, hidden=[32, 32])
    tuned = []
    for draws in (1, 7):
        torch.manual_seed(123)
        torch.rand(draws)  # another history of the global generator
        mark = torch.get_rng_state()
        tuned.append(finetune(pol, demos, [rnd], "iwr", steps=3, batch_size=16, seed=4, progress=False)[0])
        assert torch.equal(torch.get_rng_state(), mark)
    assert all(torch.equal(a, b) for a, b in zip(tuned[0].parameters(), tuned[1].parameters()))
    other = finetune(pol, demos, [rnd], "iwr", steps=3, batch_size=16, seed=5, progress=False)[0]
    assert any(not torch.equal(a, b) for a, b in zip(tuned[0].parameters(), other.parameters()))


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--method" in capsys.readouterr().out


def test_cli_end_to_end(tiny, tmp_path):
    base, demos, rnd, s_test = tiny
    base_path = base.save(tmp_path / "base.pt")
    demos.save(tmp_path / "demos.npz")
    rnd.save(tmp_path / "round1.npz")
    out = tmp_path / "tuned.pt"
    rc = main(["--data", str(tmp_path / "round1.npz"), "--pretrain", str(tmp_path / "demos.npz"),
               "--method", "iwr", "--base", str(base_path), "--out", str(out), "--steps", "200",
               "--batch-size", "64", "--lr", "1e-3", "--no-progress",
               "--summary-json", str(tmp_path / "s.json")])
    assert rc == 0 and out.exists()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["method"] == "iwr" and summary["groups"]["robot"] == int((rnd.source == 0).sum())
    assert error(GaussianMLPPolicy.load(out), s_test) < error(base, s_test)


def test_cli_bad_input_is_one_line_error(tmp_path, capsys):
    rc = main(["--data", str(tmp_path / "missing.npz"), "--method", "iwr", "--base", str(tmp_path / "b.pt"),
               "--out", str(tmp_path / "o.pt"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("hitl_finetune: error:") and "not found" in err and "\n" not in err
    assert not (tmp_path / "o.pt").exists()
