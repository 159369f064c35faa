"""hitl_train: trains through the registry, writes a loadable checkpoint, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hitl_policy.cli.train import main, parse_sets
from hitl_policy.models.diffusion import DiffusionPolicy
from hitl_policy.registry import load_policy
from hitl_policy.synthetic import make_fork_dataset

torch.set_num_threads(1)


@pytest.fixture
def demos(tmp_path):
    return make_fork_dataset(4, seed=0).save(tmp_path / "demos.npz")


def test_train_writes_checkpoint_and_stats(demos, tmp_path, capsys):
    out = tmp_path / "ckpt" / "fork.pt"
    rc = main(
        [
            "--data",
            str(demos),
            "--policy",
            "diffusion",
            "--out",
            str(out),
            "--steps",
            "4",
            "--seed",
            "3",
            "--batch-size",
            "16",
            "--set",
            "hidden=[16,16]",
            "--set",
            "num_inference_steps=4",
            "--set",
            "horizon=4",
            "--set",
            "n_action=2",
            "--no-progress",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 4 and np.isfinite(summary["final_loss"])
    assert json.loads((tmp_path / "ckpt" / "fork.pt.train.json").read_text())["checkpoint"] == str(out)
    policy = load_policy(out)
    assert isinstance(policy, DiffusionPolicy)
    assert (policy.horizon, policy.n_action, policy.config["hidden"], policy.config["seed"]) == (
        4,
        2,
        [16, 16],
        3,
    )
    assert policy.predict_chunk(np.zeros((1, 2, 2), np.float32)).shape == (1, 4, 2)
    # continue training the checkpoint (fine-tuning path)
    assert (
        main(
            [
                "--data",
                str(demos),
                "--out",
                str(out),
                "--steps",
                "2",
                "--init",
                str(out),
                "--batch-size",
                "8",
                "--no-progress",
            ]
        )
        == 0
    )
    assert DiffusionPolicy.load(out).train_steps == 6


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--set", "hiden=[3]"], "unknown config keys"),
        (["--set", "novalue"], "key=value"),
        (["--steps", "0"], "--steps"),
    ],
)
def test_bad_arguments_are_one_line_errors(demos, tmp_path, capsys, extra, needle):
    out = tmp_path / "x.pt"
    rc = main(["--data", str(demos), "--out", str(out), "--no-progress", "--steps", "1", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_missing_and_corrupt_data_name_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert main(["--data", str(missing), "--out", str(tmp_path / "x.pt"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["--data", str(bad), "--out", str(tmp_path / "x.pt"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err


def test_parse_sets_yaml_values():
    assert parse_sets(["a=3", "b=[1, 2]", "c=unet", "d=1e-3", "e=true"]) == {
        "a": 3,
        "b": [1, 2],
        "c": "unet",
        "d": 1e-3,
        "e": True,
    }
    with pytest.raises(ValueError):
        parse_sets(["=3"])
