"""Batch composition of the learning-from-interventions methods."""

from __future__ import annotations

import numpy as np
import pytest
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, EpisodeDataset
from hitl_policy.learning.finetune import aggregate
from hitl_policy.learning.sampling import (
    ROLE_HUMAN,
    ROLE_PAUSED,
    ROLE_PRETRAIN,
    ROLE_ROBOT,
    StratifiedBatchSampler,
    WeightedBatchSampler,
    make_plan,
)


def dataset(sources: list[int], ep_len: int = 10) -> EpisodeDataset:
    n = len(sources)
    x = np.arange(n, dtype=np.float32)[:, None]
    return EpisodeDataset(obs=x, action=x, current=x, episode_ends=np.arange(ep_len, n + 1, ep_len),
                          source=np.array(sources))


@pytest.fixture
def agg():
    rng = np.random.default_rng(0)
    pretrain = dataset([SOURCE_HUMAN] * 100)  # full demos
    rnd = dataset(list(rng.choice([SOURCE_ROBOT, SOURCE_HUMAN, SOURCE_PAUSED], 200, p=[0.7, 0.2, 0.1])))
    return aggregate(pretrain, [rnd])


def test_roles(agg):
    data, roles = agg
    assert (roles[:100] == ROLE_PRETRAIN).all()
    src = data.source[100:]
    assert (roles[100:][src == SOURCE_HUMAN] == ROLE_HUMAN).all()
    assert (roles[100:][src == SOURCE_ROBOT] == ROLE_ROBOT).all()
    assert (roles[100:][src == SOURCE_PAUSED] == ROLE_PAUSED).all()


def test_iwr_batches_exactly_half_intervention(agg):
    _, roles = agg
    sampler = StratifiedBatchSampler(make_plan("iwr", roles), batch_size=64, seed=1)
    for _ in range(50):
        idx, _ = sampler.sample()
        human = np.isin(roles[idx], (ROLE_HUMAN, ROLE_PRETRAIN)).sum()
        assert human == 32
        assert (roles[idx][np.isin(roles[idx], (ROLE_ROBOT, ROLE_PAUSED))] == ROLE_ROBOT).all()


def test_hg_dagger_uses_only_human_samples(agg):
    _, roles = agg
    plan = make_plan("hg-dagger", roles)
    seen = np.concatenate([StratifiedBatchSampler(plan, 32, s).sample()[0] for s in range(100)])
    assert set(np.unique(roles[seen])) == {ROLE_PRETRAIN, ROLE_HUMAN}


def test_iwr_nb_uniform_over_executed_steps(agg):
    _, roles = agg
    plan = make_plan("iwr-nb", roles)
    assert len(plan.groups) == 1 and not np.isin(roles[plan.groups[0]], ROLE_PAUSED).any()
    w = plan.step_weights(len(roles))
    assert np.allclose(w[plan.groups[0]], 1 / len(plan.groups[0]))
    assert w[roles == ROLE_PAUSED].sum() == 0


def test_mix_is_half_and_half_in_expectation(agg):
    _, roles = agg
    plan = make_plan("mix", roles)
    w = plan.step_weights(len(roles))
    assert w[roles == ROLE_HUMAN].sum() == pytest.approx(0.5)
    assert w[roles == ROLE_ROBOT].sum() == 0  # robot steps are not part of the mix
    drawn = np.concatenate([WeightedBatchSampler(w, 64, s).sample() for s in range(200)])
    frac = np.mean(roles[drawn] == ROLE_HUMAN)
    assert abs(frac - 0.5) < 0.02, frac
    exact = StratifiedBatchSampler(plan, 64, 0).sample()[0]
    assert np.sum(roles[exact] == ROLE_HUMAN) == 32


def test_group_without_steps_and_unknown_method():
    _, roles = aggregate(None, [dataset([SOURCE_HUMAN] * 20)])
    plan = make_plan("iwr", roles)  # no robot steps yet: all of every batch comes from the human group
    assert plan.fractions == [1.0]
    with pytest.raises(ValueError, match="no training steps"):
        make_plan("mix", roles)  # no pretraining data
    with pytest.raises(ValueError, match="unknown method"):
        make_plan("dagger++", roles)
