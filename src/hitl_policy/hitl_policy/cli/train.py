"""hitl_train: train a policy on an episode dataset (.npz) and write a checkpoint.

    hitl_train --data demos.npz --policy diffusion --out ckpt.pt --steps 5000 --seed 0 \
        --set net=unet --set hidden=[256,256] --set num_inference_steps=10

``--set key=value`` values are parsed as YAML (numbers, lists, booleans); keys are the policy's
config keys. ``--init ckpt.pt`` continues training an existing checkpoint instead (fine-tuning).
Training statistics go to stdout (one JSON line) and next to the checkpoint (``<out>.train.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hitl_policy.registry import POLICIES


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as exc:
            raise ValueError(f"--set {key}: cannot parse value {value!r} ({type(exc).__name__})") from exc
        if isinstance(parsed, str):  # YAML 1.1 reads "1e-3" as a string
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        out[key.strip()] = parsed
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hitl_train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--data", required=True,
                   help="episode dataset: .npz (EpisodeDataset.save) or a LeRobotDataset v3 directory")
    p.add_argument("--policy", default="diffusion", choices=sorted(POLICIES), help="policy kind")
    p.add_argument("--out", required=True, help="checkpoint to write (atomically)")
    p.add_argument("--steps", type=int, default=5000, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="seed (passed to the policy config as 'seed')")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="policy config entry (YAML value); repeatable",
    )
    p.add_argument("--init", default=None, help="continue training this checkpoint instead of a new policy")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from hitl_policy.lerobot_format import load_episodes
    from hitl_policy.registry import load_policy, make_policy

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    config = parse_sets(args.sets)
    dataset = load_episodes(args.data)
    if dataset.n_steps == 0:
        raise ValueError(f"{args.data}: dataset has no steps")
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.init:
        if config:
            raise ValueError("--set cannot change a checkpoint given with --init")
        policy = load_policy(args.init)
        if policy.kind != args.policy:
            raise ValueError(f"{args.init}: holds a {policy.kind!r} policy, --policy is {args.policy!r}")
    else:
        config.setdefault("seed", args.seed)
        policy = make_policy(args.policy, dataset.obs_dim, dataset.act_dim, **config)
    t0 = time.perf_counter()
    stats = policy.fit(dataset, steps=args.steps, batch_size=args.batch_size, progress=not args.no_progress)
    out = policy.save(args.out)
    summary = {k: v for k, v in stats.items() if not isinstance(v, list | tuple | np.ndarray)}
    summary.update(
        {
            "checkpoint": str(out),
            "policy": args.policy,
            "data": str(args.data),
            "n_steps_data": dataset.n_steps,
            "n_episodes": dataset.n_episodes,
            "wall_s": round(time.perf_counter() - t0, 3),
        }
    )
    Path(str(out) + ".train.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hitl_core.data import DatasetError

    from hitl_policy.checkpoint import CheckpointError

    try:
        summary = run(args)
    except (DatasetError, CheckpointError, ValueError, TypeError, ImportError, OSError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"hitl_train: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hitl_train: interrupted, no checkpoint written", file=sys.stderr)
        return 130
    print(json.dumps(summary, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
