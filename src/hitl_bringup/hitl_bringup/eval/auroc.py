"""AUROC of each gate's score for "the policy fails from this state within the next chunk".

Labels come from the policy's own autonomous rollouts on the evaluation variant (the T1 job's
"never ask" run): a state at step t of an episode of length L is positive when the episode does not
succeed and L - t <= H, H = the policy's chunk (``horizon`` predicted steps). L is the step the
simulator flagged the failure (object knocked, toppled, ...) or, for an episode that ran out of
time, the time limit: a timeout is dated at its end, so a state from the middle of a timed-out
episode counts as negative (it did not fail within one chunk). A second, coarser label is kept
beside it: "this episode fails" for every state of an unsuccessful episode.

All positives (up to ``max_pos``) and up to ``max_neg`` negatives are scored; the AUROC is
unchanged by sampling within a class. The AUROC is the probability that a positive state scores
above a negative one (ties count half); 0.5 is chance.
"""

from __future__ import annotations

import numpy as np

from hitl_bringup.eval.common import score_steps


def failure_labels(ds, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(chunk label, episode label) per step of an autonomous rollout dataset."""
    chunk = np.zeros(ds.n_steps, bool)
    episode = np.zeros(ds.n_steps, bool)
    for k, sl in enumerate(ds.episode_slices()):
        if bool(ds.success[k]):
            continue
        length = sl.stop - sl.start
        t = np.arange(length)
        chunk[sl] = (length - t) <= horizon
        episode[sl] = True
    return chunk, episode


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """P(score of a positive > score of a negative), ties half (the Mann-Whitney U); None: one class only."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return None
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))  # average ranks over ties
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def sample_states(chunk: np.ndarray, max_pos: int, max_neg: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(chunk), np.flatnonzero(~chunk)
    pick = [rng.choice(pos, min(max_pos, len(pos)), replace=False),
            rng.choice(neg, min(max_neg, len(neg)), replace=False)]
    return np.sort(np.concatenate(pick)).astype(np.int64)


def gate_auroc(estimators: dict, n_obs: int, ds, horizon: int, max_pos: int, max_neg: int, seed: int) -> dict:
    """Per gate: AUROC (chunk label and episode label), number of positives and negatives scored."""
    chunk, episode = failure_labels(ds, horizon)
    steps = sample_states(chunk, max_pos, max_neg, seed)
    out = {}
    for gate, est in estimators.items():
        s = score_steps(est, n_obs, ds, steps)
        out[gate] = {"auroc_chunk": auroc(s, chunk[steps]), "auroc_episode": auroc(s, episode[steps]),
                     "positives": int(chunk[steps].sum()), "negatives": int((~chunk[steps]).sum()),
                     "episode_positives": int(episode[steps].sum())}
    return out
