"""Rounds of several methods sharing one start (round 0's evaluation, round 1's deployment): the same
rows as each method running its own start."""

from __future__ import annotations

import copy

import pytest
from hitl_bringup.rounds import RoundsConfig, next_batch_size, run_rounds, start_rounds
from hitl_policy.registry import make_policy

from hitl_sim import collect_demos


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_methods_sharing_a_start_get_the_rows_of_their_own_start():
    demos = collect_demos("lift", "franka", 3, "train", seed=0, progress=False, backend="kinematic")
    base = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=0, n_obs=2, horizon=4, n_action=2)
    base.fit(demos, 20, 32, progress=False)
    cfg = {"task": "lift", "rounds": 2, "episodes_per_round": 2, "max_episodes_per_round": 2, "num_envs": 2,
           "finetune_steps": 5, "batch_size": 16, "eval_episodes": 2, "sim": "kinematic", "seed": 1}
    start = start_rounds(copy.deepcopy(base), RoundsConfig(method="iwr", **cfg), progress=False)
    for method in ("hg-dagger", "iwr"):
        own = _strip(run_rounds(copy.deepcopy(base), demos, RoundsConfig(method=method, **cfg), progress=False,
                                log=lambda m: None)[1])
        shared = _strip(run_rounds(None, demos, RoundsConfig(method=method, **cfg), progress=False,
                                   log=lambda m: None, start=start)[1])
        assert shared == own and [r["round"] for r in own] == [0, 1, 2]
    assert start.first_round.n_episodes == 2


def test_a_start_of_another_configuration_is_refused():
    demos = collect_demos("lift", "franka", 2, "train", seed=0, progress=False, backend="kinematic")
    base = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=0, n_obs=2, horizon=4, n_action=2)
    cfg = {"task": "lift", "rounds": 1, "episodes_per_round": 2, "max_episodes_per_round": 2, "num_envs": 2,
           "finetune_steps": 2, "batch_size": 16, "eval_episodes": 2, "sim": "kinematic"}
    start = start_rounds(copy.deepcopy(base), RoundsConfig(seed=0, **cfg), progress=False)
    with pytest.raises(ValueError, match="another configuration"):
        run_rounds(None, demos, RoundsConfig(seed=1, **cfg), progress=False, log=lambda m: None, start=start)


def _cfg(**kw) -> RoundsConfig:
    base = {"task": "lift", "human_samples_per_round": 100, "episodes_per_round": 10, "max_episodes_per_round": 20}
    return RoundsConfig(**(base | kw))


def test_the_first_batch_is_full_and_later_ones_only_what_the_target_still_needs():
    assert next_batch_size(_cfg(), human=0, episodes=0) == 10
    # 90 samples in 10 episodes (9 per episode): 10 more samples need 2 episodes, plus one
    assert next_batch_size(_cfg(), human=90, episodes=10) == 3
    assert next_batch_size(_cfg(), human=20, episodes=10) == 10  # never more than a batch
    assert next_batch_size(_cfg(), human=20, episodes=18) == 2  # never past the round's cap
    assert next_batch_size(_cfg(), human=0, episodes=10) == 10  # no rate seen yet: a full batch
    assert next_batch_size(_cfg(human_samples_per_round=0), human=0, episodes=0) == 10


def test_rounds_not_evaluated_have_no_success_and_the_last_one_has():
    demos = collect_demos("lift", "franka", 2, "train", seed=0, progress=False, backend="kinematic")
    base = make_policy("diffusion", demos.obs_dim, demos.act_dim, seed=0, n_obs=2, horizon=4, n_action=2)
    cfg = RoundsConfig(task="lift", rounds=2, episodes_per_round=2, max_episodes_per_round=2, num_envs=2,
                       finetune_steps=2, batch_size=16, eval_episodes=2, sim="kinematic", evaluate_every_round=False)
    _, rows = run_rounds(base, demos, cfg, progress=False, log=lambda m: None)
    assert [r["success"] is None for r in rows] == [False, True, False]
