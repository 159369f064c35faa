"""How the paper recipe's score changes with its sampling radius, on the same states and sampled directions.

    python bench/radius_scaling.py --cache <eval out>/cache --task lift --out bench/results/radius_scaling.json

T5 (the radius ablation) gave identical deployments at every radius once deployments were reseeded
(docs/results.md). This measures why: for states of the task's demos it scores each state with the
paper's estimator (``denoising_vector_paper``) at each radius with the same sampling seed, and reports
score / r^2 relative to the smallest radius (1.0 everywhere: the score is proportional to r^2) and the
rank correlation of the states' scores with the smallest radius's (1.0: a threshold calibrated to a flag
rate flags the same states at every radius).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("hitl_core", "hitl_policy", "hitl_bringup"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

import numpy as np  # noqa: E402


def ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x))


def measure(policy, dataset, radii: tuple[float, ...], states: int, seed: int) -> dict:
    from hitl_policy.registry import make_estimator

    h = policy.n_obs
    idx = np.random.default_rng(seed).choice(np.arange(h - 1, dataset.n_steps), states, replace=False)
    obs = np.stack([dataset.obs[i - h + 1:i + 1] for i in idx])
    cur = dataset.current[idx]
    scores = {}
    for r in radii:
        est = make_estimator("denoising_vector_paper", policy, radius=r, seed=seed)
        est.reseed(seed)  # the same sampled directions at every radius, as in T5's deployments
        scores[r] = np.array([u.score for u in est.estimate(obs, cur)])
    ref = scores[radii[0]] / radii[0] ** 2
    out = {}
    for r, s in scores.items():
        q = (s / r**2) / ref
        out[str(r)] = {"score_over_r2_rel": {"median": float(np.median(q)), "min": float(q.min()),
                                             "max": float(q.max())},
                       "rank_corr_with_smallest": float(np.corrcoef(ranks(s), ranks(scores[radii[0]]))[0, 1]),
                       "score_median": float(np.median(s))}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", required=True, help="an evaluation's cache folder (its base models and demos)")
    p.add_argument("--task", default="lift")
    p.add_argument("--radii", type=float, nargs="+", default=[0.01, 0.03, 0.05, 0.1])
    p.add_argument("--states", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    import torch
    from hitl_core.data import EpisodeDataset
    from hitl_policy.registry import load_policy

    torch.set_num_threads(1)
    cache = Path(a.cache)
    found = sorted(cache.glob(f"{a.task}_*_diffusion.pt"))
    if not found:
        raise SystemExit(f"radius_scaling: no {a.task}_*_diffusion.pt in {cache}")
    ckpt = found[-1]
    policy = load_policy(ckpt)
    dataset = EpisodeDataset.load(str(ckpt).replace("_diffusion.pt", "_demos.npz"))
    result = {"command": " ".join(sys.argv), "task": a.task, "checkpoint": ckpt.name, "states": a.states,
              "radii": measure(policy, dataset, tuple(sorted(a.radii)), a.states, a.seed)}
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
