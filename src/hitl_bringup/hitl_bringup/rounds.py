"""hitl_rounds: N rounds of deploy (sim, simulated operator) -> record -> fine-tune -> evaluate.

    hitl_rounds --base base.pt --pretrain demos.npz --task threading --method iwr --rounds 3 \\
                --out runs/rounds

Each round deploys the current policy in-process (:func:`hitl_bringup.sim_loop.deploy`) with a
simulated operator that steps in when the robot's next move heads away from the expert's (the
simulated human's judgement, as in IWR and MILE; ``ExpertDeviationGate``) or answers an
uncertainty estimator's help requests (``--estimator``/``--threshold``), records the round as a
dataset (``round_<k>.npz``), fine-tunes the current policy on the pretraining data plus every round
so far with the chosen method, saves ``round_<k>.pt`` and measures autonomous success.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, EpisodeDataset
from hitl_policy.learning.sampling import METHODS

from hitl_bringup.sim_loop import DeployResult, ExpertDeviationGate, GateConfig, deploy

PROG = "hitl_rounds"


@dataclass
class RoundsConfig:
    task: str
    method: str = "iwr"
    arm: str = "franka"
    variant: str = "train"
    rounds: int = 3
    human_samples_per_round: int = 0   # collect episodes until this many human samples (0: episodes only)
    episodes_per_round: int = 10       # the first deployment batch (later ones: next_batch_size)
    max_episodes_per_round: int = 60
    num_envs: int = 8
    finetune_steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    eval_episodes: int = 20
    evaluate_every_round: bool = True  # False: autonomous success of round 0 and the last round only
    estimator: str | None = None       # robot-gated help requests with this estimator ...
    threshold: float | None = None     # ... and threshold; without them:
    expert_gate: float | None = 1.0    # the simulated human steps in when the robot heads this far off
                                       # (ExpertDeviationGate score; None: no such gate)
    human_gated: bool = False          # the operator also takes over at will (wrong-way rule)
    takeover_rule: str = "wrong_way"
    reaction_ticks: int = 3
    takeover_ticks: int = 10
    seed: int = 0
    sim: str = "kinematic"             # simulator backend (hitl_bringup/sim_backend.py)
    extra: dict = field(default_factory=dict)


def operator_config(cfg: RoundsConfig, seed: int):
    from hitl_teleop.sim_operator import SimOperatorConfig

    return SimOperatorConfig(reaction_delay_ticks=cfg.reaction_ticks, human_gated=cfg.human_gated,
                             takeover_rule=cfg.takeover_rule, takeover_ticks=cfg.takeover_ticks, seed=seed)


def cap_human_samples(ds: EpisodeDataset, n: int) -> EpisodeDataset:
    """Keep the first ``n`` human samples as human; later ones become PAUSED (excluded from training)."""
    human = np.flatnonzero(ds.source == SOURCE_HUMAN)
    if n <= 0 or len(human) <= n:
        return ds
    src = ds.source.copy()
    src[human[n:]] = SOURCE_PAUSED
    return EpisodeDataset(obs=ds.obs, action=ds.action, current=ds.current, episode_ends=ds.episode_ends,
                          source=src, robot_action=ds.robot_action, success=ds.success,
                          expert_id=ds.expert_id, meta=dict(ds.meta))


def next_batch_size(cfg: RoundsConfig, human: int, episodes: int) -> int:
    """Episodes of the next deployment batch of a round that has so far ``human`` samples in ``episodes``.

    The first batch is ``episodes_per_round``; a later one only as many as the remaining human samples need
    at the rate seen so far, plus one (the samples past the target are not trained on, so a full batch
    there was mostly simulated for nothing), never past ``max_episodes_per_round``."""
    left = cfg.max_episodes_per_round - episodes
    if episodes == 0 or human == 0 or cfg.human_samples_per_round <= 0:
        return max(0, min(cfg.episodes_per_round, left))
    need = math.ceil(max(0, cfg.human_samples_per_round - human) * episodes / human) + 1
    return max(0, min(cfg.episodes_per_round, need, left))


def collect_round(policy, cfg: RoundsConfig, seed: int, estimator=None, progress: bool = False) -> tuple:
    """Deploy in batches (:func:`next_batch_size`) until the human-sample target (or the episode cap)."""
    from hitl_bringup.sim_backend import make_env, make_expert

    expert = make_expert(cfg.task, seed=seed, sim=cfg.sim)
    parts: list[DeployResult] = []
    human, episodes, batch = 0, 0, 0
    with make_env(cfg.task, cfg.arm, cfg.num_envs, cfg.variant, seed, cfg.sim) as env:
        threshold = cfg.threshold
        if estimator is None and cfg.expert_gate is not None:
            estimator, threshold = ExpertDeviationGate(expert, env.n_arms), cfg.expert_gate
        gate = GateConfig.for_task(cfg.task, threshold=threshold, reaction_ticks=cfg.reaction_ticks)  # the YAML's
        while True:
            s = seed * 1000 + batch
            res = deploy(env, policy, max(1, next_batch_size(cfg, human, episodes)), estimator, gate, expert, seed=s,
                         operator=operator_config(cfg, s), progress=progress, desc=f"deploy {cfg.method}")
            parts.append(res)
            human += int((res.dataset.source == SOURCE_HUMAN).sum())
            episodes += len(res.episodes)
            batch += 1
            if human >= cfg.human_samples_per_round or episodes >= cfg.max_episodes_per_round:
                break
    ds = EpisodeDataset.concatenate([p.dataset for p in parts])
    ds = cap_human_samples(ds, cfg.human_samples_per_round)
    eps = [m for p in parts for m in p.episodes]
    return ds, DeployResult(ds, eps).summary()


def autonomous_success(policy, task: str, arm: str, variant: str, n: int, num_envs: int, seed: int,
                       sim: str = "kinematic") -> float:
    from hitl_bringup.sim_backend import make_env

    with make_env(task, arm, min(num_envs, n), variant, seed, sim) as env:
        return deploy(env, policy, n, seed=seed).summary()["success_rate"]


@dataclass
class RoundsStart:
    """What every method's rounds share before their first fine-tuning: the base policy's autonomous
    success (round 0) and the first round's deployment. The method only chooses how the rounds are
    trained on, so methods started from the same base policy with the same configuration deploy the
    same first round; the evaluation (T3) runs it once for all of them. ``policy`` is the base policy as
    it is after that deployment, so each method goes on exactly as if it had run the start itself."""

    cfg: RoundsConfig
    policy: object
    base_success: float
    first_round: EpisodeDataset
    first_deploy: dict
    seconds: float


def eval_seed(cfg: RoundsConfig) -> int:
    """Every round's autonomous evaluation runs the same episodes (so rounds compare on equal terms)."""
    return 10_000 + cfg.seed


def _round_estimator(policy, cfg: RoundsConfig):
    if cfg.estimator and cfg.threshold is not None:
        from hitl_policy.registry import make_estimator

        return make_estimator(cfg.estimator, policy)
    return None


def start_rounds(policy, cfg: RoundsConfig, progress: bool = True) -> RoundsStart:
    """Round 0's evaluation and round 1's deployment of ``policy`` (which they advance; pass a copy)."""
    base = autonomous_success(policy, cfg.task, cfg.arm, cfg.variant, cfg.eval_episodes, cfg.num_envs,
                              eval_seed(cfg), cfg.sim)
    t0 = time.perf_counter()
    ds, dep = collect_round(policy, cfg, seed=cfg.seed * 100 + 1, estimator=_round_estimator(policy, cfg),
                            progress=progress)
    return RoundsStart(cfg, policy, base, ds, dep, time.perf_counter() - t0)


def run_rounds(policy, pretrain: EpisodeDataset | None, cfg: RoundsConfig, out_dir: str | Path | None = None,
               progress: bool = True, log=print, start: RoundsStart | None = None) -> tuple[object, list[dict]]:
    """Returns (final policy, one row per round incl. round 0 = the base policy's success).

    ``start``: a :func:`start_rounds` of the same configuration (any method) to go on from; ``policy`` is
    then not used (a copy of ``start.policy`` is trained)."""
    from hitl_policy.learning.finetune import finetune

    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}: expected one of {list(METHODS)}")
    if start is None:
        start = start_rounds(policy, cfg, progress)
    elif asdict(start.cfg) != asdict(cfg) | {"method": start.cfg.method}:
        raise ValueError("start_rounds ran with another configuration than these rounds (the method aside)")
    else:
        policy = copy.deepcopy(start.policy)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows = [{"round": 0, "success": start.base_success, "human_samples": 0, "human_samples_total": 0,
             "episodes": 0}]
    log(f"[{cfg.method}] round 0: autonomous success {rows[0]['success']:.2f}")
    rounds: list[EpisodeDataset] = []
    total_human = 0
    for r in range(1, cfg.rounds + 1):
        t0 = time.perf_counter() - (start.seconds if r == 1 else 0.0)
        if r == 1:
            ds, dep = start.first_round, start.first_deploy
        else:
            ds, dep = collect_round(policy, cfg, seed=cfg.seed * 100 + r, estimator=_round_estimator(policy, cfg),
                                    progress=progress)
        rounds.append(ds)
        n_human = int((ds.source == SOURCE_HUMAN).sum())
        total_human += n_human
        policy, summary = finetune(policy, pretrain, rounds, cfg.method, cfg.finetune_steps, cfg.batch_size,
                                   cfg.lr, seed=cfg.seed + r, progress=progress)
        success = (autonomous_success(policy, cfg.task, cfg.arm, cfg.variant, cfg.eval_episodes, cfg.num_envs,
                                      eval_seed(cfg), cfg.sim)
                   if cfg.evaluate_every_round or r == cfg.rounds else None)
        row = {"round": r, "success": success, "human_samples": n_human, "human_samples_total": total_human,
               "episodes": ds.n_episodes, "assisted_success": dep["success_rate"],
               "deploy_human_fraction": dep["human_fraction"], "loss_last": summary["loss_last"],
               "seconds": round(time.perf_counter() - t0, 1)}
        if out is not None:
            ds.save(out / f"round_{r}.npz")
            policy.save(out / f"round_{r}.pt")
            row["checkpoint"] = str(out / f"round_{r}.pt")
        rows.append(row)
        log(f"[{cfg.method}] round {r}: {n_human} human samples in {ds.n_episodes} episodes "
            f"(assisted success {dep['success_rate']:.2f}) -> autonomous success "
            f"{'not evaluated' if success is None else f'{success:.2f}'}")
    if out is not None:
        (out / "rounds.json").write_text(json.dumps({"config": asdict(cfg), "rounds": rows}, indent=2))
    return policy, rows


# ------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, metavar="CKPT", help="policy checkpoint of round 0")
    p.add_argument("--pretrain", metavar="NPZ", help="the base policy's demos (aggregated with every round)")
    p.add_argument("--task", required=True)
    p.add_argument("--arm", default="franka")
    p.add_argument("--variant", default="train")
    p.add_argument("--method", default="iwr", choices=METHODS)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--episodes", type=int, default=10, help="episodes per deployment batch")
    p.add_argument("--human-samples", type=int, default=0,
                   help="collect until this many human samples per round (default: one batch)")
    p.add_argument("--max-episodes", type=int, default=60, help="episode cap per round")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=1000, help="fine-tuning steps per round")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--estimator", help="robot-gated help requests with this estimator (needs --threshold)")
    p.add_argument("--threshold", type=float)
    p.add_argument("--expert-gate", type=float, default=1.0,
                   help="without --estimator: the simulated human steps in when the robot's next move is "
                        "this far off the expert's (1 - cos + stall/gripper terms; default 1.0 = > 90 deg)")
    p.add_argument("--human-gating", action="store_true",
                   help="the operator also takes over at will (wrong-way rule of the simulated operator)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sim", default="mujoco", choices=("mujoco", "kinematic"),
                   help="simulator the rounds deploy in (default mujoco, the simulator of record)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="rounds' datasets, checkpoints and rounds.json")
    p.add_argument("--no-progress", action="store_true")
    return p


def print_table(rows: list[dict], method: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"hitl_rounds: {method}")
    cols = ("round", "human samples", "total human", "episodes", "assisted success", "autonomous success")
    for col in cols:
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(str(r["round"]), str(r["human_samples"]), str(r["human_samples_total"]), str(r["episodes"]),
                  f"{r['assisted_success']:.2f}" if "assisted_success" in r else "-",
                  "-" if r["success"] is None else f"{r['success']:.2f}")
    Console(stderr=True).print(t)


def main(args: list[str] | None = None) -> int:
    ns = build_parser().parse_args(args)
    if (ns.estimator is None) != (ns.threshold is None):
        print(f"{PROG}: error: --estimator and --threshold go together", file=sys.stderr)
        return 2
    try:
        import torch
        from hitl_policy.learning.finetune import load_any_policy

        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
        policy = load_any_policy(ns.base)
        pretrain = EpisodeDataset.load(ns.pretrain) if ns.pretrain else None
        cfg = RoundsConfig(task=ns.task, method=ns.method, arm=ns.arm, variant=ns.variant, rounds=ns.rounds,
                           human_samples_per_round=ns.human_samples, episodes_per_round=ns.episodes,
                           max_episodes_per_round=ns.max_episodes, num_envs=ns.num_envs,
                           finetune_steps=ns.steps, batch_size=ns.batch_size, lr=ns.lr,
                           eval_episodes=ns.eval_episodes, estimator=ns.estimator, threshold=ns.threshold,
                           expert_gate=ns.expert_gate, human_gated=ns.human_gating, seed=ns.seed, sim=ns.sim)
        _, rows = run_rounds(policy, pretrain, cfg, ns.out, progress=not ns.no_progress,
                             log=lambda m: print(m, file=sys.stderr))
    except Exception as exc:  # the CLI's contract: one line, no traceback
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    print_table(rows, ns.method)
    return 0


if __name__ == "__main__":
    sys.exit(main())
