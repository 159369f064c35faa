"""Which training windows each learning-from-interventions method draws, and in what proportion.

Every method works on one *aggregated* dataset (pretraining demos + every recorded round) whose
steps carry a role (:func:`step_roles`). A method is a list of groups of step indices and the
fraction of each batch drawn from each group (:class:`SamplingPlan`):

- ``bc``:        every non-paused step, uniform (on full demonstrations: behaviour cloning).
- ``hg-dagger``: pretraining steps + human-controlled steps; robot steps are discarded, uniform.
- ``iwr``:       group I = human steps (demos and interventions), group R = robot steps;
                 every batch is exactly half I, half R (IWR's equal-size batches, alpha=|R|/|I|).
- ``iwr-nb``:    the same steps as IWR in one group, uniform (IWR without balancing).
- ``mix``:       group FT = human steps recorded in the rounds, group PT = pretraining steps;
                 every batch is exactly half FT, half PT (diffusion paper's fine-tuning).
- ``bc-intervention``: every executed (non-paused) step of the rounds, uniform, no pretraining.

The fine-tuning loop (:mod:`hitl_policy.learning.finetune`) draws *exact* stratified batches with
:class:`StratifiedBatchSampler` and calls ``policy.training_loss``. The same plan is also available
as per-step sample weights (:meth:`SamplingPlan.step_weights`) for ``policy.fit(sample_weights=...)``,
where the composition then holds in expectation only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, EpisodeDataset

ROLE_PRETRAIN = 0
ROLE_HUMAN = 1
ROLE_ROBOT = 2
ROLE_PAUSED = 3

METHODS = ("bc", "hg-dagger", "iwr", "iwr-nb", "mix", "bc-intervention", "mile")


def step_roles(pretrain_steps: int, dataset: EpisodeDataset) -> np.ndarray:
    """(N,) role of each step of an aggregated dataset whose first ``pretrain_steps`` steps are the
    pretraining demos: pretraining, then by recorded source (human / robot / paused)."""
    roles = np.full(dataset.n_steps, ROLE_ROBOT, np.int8)
    src = dataset.source
    roles[src == SOURCE_HUMAN] = ROLE_HUMAN
    roles[src == SOURCE_PAUSED] = ROLE_PAUSED
    roles[src == SOURCE_ROBOT] = ROLE_ROBOT
    roles[:pretrain_steps] = np.where(src[:pretrain_steps] == SOURCE_PAUSED, ROLE_PAUSED, ROLE_PRETRAIN)
    return roles


@dataclass
class SamplingPlan:
    """groups[i]: step indices of group i; fractions[i]: its share of every batch (sums to 1)."""

    method: str
    groups: list[np.ndarray]
    fractions: list[float]
    names: list[str]

    def step_weights(self, n_steps: int) -> np.ndarray:
        """(N,) per-step sampling probabilities realizing the plan in expectation (sums to 1)."""
        w = np.zeros(n_steps, np.float64)
        for g, f in zip(self.groups, self.fractions):
            if len(g):
                w[g] += f / len(g)
        return w / w.sum()

    def counts(self) -> dict[str, int]:
        return {n: len(g) for n, g in zip(self.names, self.groups)}


def make_plan(method: str, roles: np.ndarray) -> SamplingPlan:
    """The groups and batch fractions of ``method`` over steps with the given roles."""
    idx = {r: np.flatnonzero(roles == r) for r in (ROLE_PRETRAIN, ROLE_HUMAN, ROLE_ROBOT)}
    human_all = np.sort(np.concatenate([idx[ROLE_PRETRAIN], idx[ROLE_HUMAN]]))
    executed = np.sort(np.concatenate([idx[ROLE_PRETRAIN], idx[ROLE_HUMAN], idx[ROLE_ROBOT]]))
    if method in ("bc", "iwr-nb", "mile"):
        plan = SamplingPlan(method, [executed], [1.0], ["all"])
    elif method == "hg-dagger":
        plan = SamplingPlan(method, [human_all], [1.0], ["human"])
    elif method == "bc-intervention":
        rounds = np.sort(np.concatenate([idx[ROLE_HUMAN], idx[ROLE_ROBOT]]))
        plan = SamplingPlan(method, [rounds], [1.0], ["rounds"])
    elif method == "iwr":
        plan = SamplingPlan(method, [human_all, idx[ROLE_ROBOT]], [0.5, 0.5], ["intervention", "robot"])
    elif method == "mix":
        plan = SamplingPlan(method, [idx[ROLE_HUMAN], idx[ROLE_PRETRAIN]], [0.5, 0.5],
                            ["intervention", "pretrain"])
    else:
        raise ValueError(f"unknown method {method!r}: expected one of {list(METHODS)}")
    if method == "mix" and not all(len(g) for g in plan.groups):
        raise ValueError(f"method 'mix' has no training steps in one of its halves ({plan.counts()}): "
                         "it needs pretraining data and human-controlled steps")
    # A group with no steps (e.g. IWR before any robot step was recorded) gives its share to the others.
    keep = [i for i, g in enumerate(plan.groups) if len(g)]
    if not keep:
        raise ValueError(f"method {method!r} has no training steps in this data ({plan.counts()})")
    total = sum(plan.fractions[i] for i in keep)
    return SamplingPlan(method, [plan.groups[i] for i in keep], [plan.fractions[i] / total for i in keep],
                        [plan.names[i] for i in keep])


class StratifiedBatchSampler:
    """Batches of step indices with an exact per-group composition.

    Group i contributes round(fraction_i * batch_size) indices (the remainder goes to the
    largest-fraction group), drawn uniformly with replacement within the group. Each batch also
    returns the group label of every index, so tests and summaries can check the composition.
    """

    def __init__(self, plan: SamplingPlan, batch_size: int, seed: int = 0) -> None:
        if batch_size < len(plan.groups):
            raise ValueError(f"batch_size {batch_size} < number of groups {len(plan.groups)}")
        self.plan = plan
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        sizes = [round(f * batch_size) for f in plan.fractions]
        sizes[int(np.argmax(plan.fractions))] += batch_size - sum(sizes)
        self.sizes = sizes

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(batch_size,) step indices and (batch_size,) group labels."""
        idx, lab = [], []
        for i, (g, k) in enumerate(zip(self.plan.groups, self.sizes)):
            idx.append(g[self.rng.integers(0, len(g), k)])
            lab.append(np.full(k, i, np.int64))
        return np.concatenate(idx), np.concatenate(lab)


class WeightedBatchSampler:
    """Batches drawn i.i.d. from per-step weights (composition holds in expectation only)."""

    def __init__(self, weights: np.ndarray, batch_size: int, seed: int = 0) -> None:
        w = np.asarray(weights, np.float64)
        if w.ndim != 1 or w.sum() <= 0 or np.any(w < 0):
            raise ValueError("sample weights must be a non-negative vector with a positive sum")
        self.p = w / w.sum()
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        return self.rng.choice(len(self.p), size=self.batch_size, p=self.p)
