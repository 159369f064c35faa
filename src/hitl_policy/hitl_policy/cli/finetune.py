"""hitl_finetune: fine-tune a policy checkpoint from recorded interventions.

    hitl_finetune --data round1.npz round2.npz --pretrain demos.npz --method iwr \\
                  --base base.pt --out finetuned.pt --steps 2000

Inputs are dataset files (``.npz``, :class:`hitl_core.data.EpisodeDataset`, or LeRobotDataset v3
directories, hitl_policy.lerobot_format) and/or rosbag2
recordings (``--bags``, converted with ``hitl_core.bag_dataset.bags_to_dataset``). Methods: bc,
hg-dagger, iwr, iwr-nb, mix (50/50 intervention vs pretraining), bc-intervention, mile.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hitl_policy.learning.sampling import METHODS

PROG = "hitl_finetune"


def build_parser() -> argparse.ArgumentParser:
    epilog = ("Methods:\n"
              "  bc              every executed step, uniform\n"
              "  hg-dagger       pretraining + human-controlled steps only\n"
              "  iwr             half human (demos + interventions), half robot steps\n"
              "  iwr-nb          human + robot steps in one pool, uniform\n"
              "  mix             half intervention steps, half pretraining steps\n"
              "  bc-intervention every executed step of the rounds (no pretraining)\n"
              "  mile            MILE's intervention model (needs a Gaussian policy)\n")
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=[], metavar="NPZ|DIR",
                   help="recorded rounds as dataset files (.npz or LeRobotDataset v3 directories)")
    p.add_argument("--bags", nargs="+", default=[], metavar="BAG",
                   help="recorded rounds as rosbag2 directories or .mcap files (every robot in them)")
    p.add_argument("--robot", metavar="NS", help="with --bags: only this robot namespace, e.g. /robot_0")
    p.add_argument("--pretrain", metavar="NPZ|DIR", help="the base policy's training demos (needed by mix; "
                                                     "used by bc, hg-dagger, iwr, iwr-nb, mile)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--base", required=True, metavar="CKPT", help="policy checkpoint to start from")
    p.add_argument("--out", required=True, metavar="CKPT", help="where to write the fine-tuned checkpoint")
    p.add_argument("--steps", type=int, default=2000, help="gradient steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=("loop", "fit"), default="loop",
                   help="loop: exact stratified batches (default); fit: the policy's fit(sample_weights)")
    p.add_argument("--mile-lambda", type=float, default=0.5, help="MILE: weight of the intervention BCE")
    p.add_argument("--mile-c", type=float, default=0.0, help="MILE: initial cost c of intervening")
    p.add_argument("--mile-fixed-c", action="store_true", help="MILE: keep c fixed (the paper's setting)")
    p.add_argument("--summary-json", metavar="PATH", help="also write the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def load_inputs(args) -> tuple:
    from hitl_policy.lerobot_format import load_episodes

    rounds = [load_episodes(path) for path in args.data]
    if args.bags:
        from hitl_core.bag_dataset import bags_to_dataset

        rounds.append(bags_to_dataset(args.bags, robot_namespace=args.robot))
    pretrain = load_episodes(args.pretrain) if args.pretrain else None
    if not rounds and pretrain is None:
        raise ValueError("nothing to train on: give --data, --bags or --pretrain")
    return pretrain, rounds


def print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"hitl_finetune: {summary['method']} -> {out}")
    t.add_column("item")
    t.add_column("value", justify="right")
    for role, n in summary["steps_by_role"].items():
        t.add_row(f"steps: {role}", str(n))
    for name, frac in summary.get("batch_fractions", {}).items():
        t.add_row(f"batch share: {name}", f"{frac:.2f} of {summary['groups'].get(name, 0)} steps")
    t.add_row("gradient steps", str(summary["steps"]))
    t.add_row("loss first -> last", f"{summary['loss_first']:.4f} -> {summary['loss_last']:.4f}")
    if "mile" in summary:
        m = summary["mile"]
        t.add_row("MILE BCE first -> last", f"{m['bce_first']:.3f} -> {m['bce_last']:.3f}")
        t.add_row("MILE NLL first -> last", f"{m['nll_first']:.3f} -> {m['nll_last']:.3f}")
        t.add_row("MILE c, scale", f"{m['c']:.3f}, {m['scale']:.3f}")
    t.add_row("seconds", f"{summary['seconds']:.1f}")
    Console(stderr=True).print(t)


def main(args: list[str] | None = None) -> int:
    ns = build_parser().parse_args(args)
    try:
        import torch

        from hitl_policy.learning.finetune import finetune, load_any_policy
        from hitl_policy.learning.mile import MileConfig

        torch.manual_seed(ns.seed)
        pretrain, rounds = load_inputs(ns)
        base = load_any_policy(ns.base)
        cfg = MileConfig(lam=ns.mile_lambda, c=ns.mile_c, learn_c=not ns.mile_fixed_c, lr=ns.lr)
        policy, summary = finetune(base, pretrain, rounds, ns.method, ns.steps, batch_size=ns.batch_size,
                                   lr=ns.lr, seed=ns.seed, progress=not ns.no_progress, engine=ns.engine,
                                   mile_config=cfg, in_place=True)
        out = Path(ns.out)
        policy.save(out)
    except Exception as exc:  # the CLI's contract: one line, no traceback
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    summary["base"], summary["out"] = str(ns.base), str(out)
    print_summary(summary, out)
    if ns.summary_json:
        Path(ns.summary_json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.summary_json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
