"""The oracle bound on human effort for lift's unseen objects (hitl_bringup.effort_bound)."""

import itertools

import numpy as np
import pytest
from hitl_bringup.effort_bound import (
    NEVER,
    SwitchRow,
    SwitchRuns,
    bound,
    least_fraction,
    least_human_steps,
    run_switches,
    sweep,
)


def _expert_grasp_steps(seeds: list[int]) -> float:
    """Mean tick at which the scripted expert alone holds the object (from a fresh reset)."""
    from hitl_sim import make_env, make_expert

    env = make_env("lift", arm="franka", num_envs=len(seeds), variant="test", seed=0, backend="kinematic")
    obs = env.reset(np.arange(len(seeds)), seeds)
    expert, first = make_expert("lift", backend="kinematic"), np.full(len(seeds), -1)
    for t in range(200):
        held = expert.milestones(env.get_state()) >= 1
        first[(first < 0) & held] = t
        if (first >= 0).all():
            break
        obs, _ = env.step(expert.act(env.get_state(), obs))
    return float(first.mean())


def test_take_over_at_step_zero_means_the_human_drives_until_the_grasp():
    seeds = list(range(6))
    row = sweep("lift", "franka", "test", seeds, [0])[0]
    assert row.success_rate == 1.0
    assert row.human_steps_mean == pytest.approx(_expert_grasp_steps(seeds))
    assert row.human_steps_mean < row.episode_steps_mean  # the robot lifts after the hand-back


def test_later_take_over_costs_fewer_human_steps_and_never_take_over_fails():
    rows = sweep("lift", "franka", "test", list(range(6)), [0, 20, 200])
    assert rows[1].human_fraction < rows[0].human_fraction
    # a training-like robot alone grasps unseen objects like the cube: they never come up
    assert rows[2].human_steps_mean == 0 and rows[2].success_rate == 0.0


def test_bound_picks_the_least_fraction_among_successful_rows():
    rows = [SwitchRow(0, 1.0, 30, 37, 0.8), SwitchRow(10, 0.95, 20, 40, 0.5), SwitchRow(30, 0.7, 17, 50, 0.34)]
    assert bound(rows, 0.9).switch_step == 10
    assert bound(rows, 0.99).switch_step == 0
    assert bound(rows, 1.01) is None


def test_unsupported_task_is_a_clear_error():
    with pytest.raises(ValueError, match="lift"):
        sweep("drawer", "franka", "test", [0], [0])


def _runs(human, length, success) -> SwitchRuns:
    h = np.asarray(human, float)
    return SwitchRuns(np.arange(h.shape[0]), h, np.asarray(length, float), np.asarray(success, bool))


def _brute_force_fraction(runs: SwitchRuns, min_success: float) -> float:
    s, n = runs.human.shape
    best = np.inf
    for pick in itertools.product(range(s), repeat=n):
        cols = np.arange(n)
        if runs.success[pick, cols].mean() >= min_success - 1e-9:
            best = min(best, runs.human[pick, cols].sum() / runs.length[pick, cols].sum())
    return best


def test_least_fraction_equals_a_brute_force_search_over_every_choice():
    rng = np.random.default_rng(3)
    for _ in range(20):
        human = rng.integers(0, 30, (4, 5))
        length = human + rng.integers(5, 60, (4, 5))
        success = rng.random((4, 5)) < 0.7
        success[0] = True  # every episode can succeed
        runs = _runs(human, length, success)
        for min_success in (1.0, 0.8, 0.6):
            got = least_fraction(runs, min_success)
            assert got is not None and got.success_rate >= min_success - 1e-9
            assert got.human_fraction == pytest.approx(_brute_force_fraction(runs, min_success), abs=1e-6)


def test_least_fraction_gives_up_an_episode_only_when_the_success_rate_allows_it():
    # episode 1 is expensive to help (30 of 40 steps); failing it costs nothing human and adds 100 steps
    runs = _runs([[5, 30], [0, 0]], [[40, 40], [100, 100]], [[True, True], [False, False]])
    strict = least_fraction(runs, 1.0)
    assert strict.given_up == 0 and strict.human_fraction == pytest.approx(35 / 80)
    loose = least_fraction(runs, 0.5)
    assert loose.given_up == 1 and loose.switch_steps == [0, None]
    assert loose.human_fraction == pytest.approx(5 / 140)
    assert least_fraction(runs, 1.01) is None


def test_least_human_steps_prefers_fewer_human_steps_then_shorter_episodes():
    runs = _runs([[9, 4], [4, 4], [0, 0]], [[30, 50], [60, 40], [80, 80]], [[True, True], [True, True], [False, False]])
    got = least_human_steps(runs)
    assert got.switch_steps == [1, 1] and got.human_steps_mean == 4 and got.episode_steps_mean == 50
    assert least_human_steps(_runs([[1], [2]], [[5], [5]], [[False], [False]])) is None


def test_per_episode_oracles_on_the_simulator_bound_the_fixed_step_one():
    runs = run_switches("lift", "franka", "test", list(range(6)), [*range(0, 60, 3), NEVER])
    fixed = bound(runs.rows(), 0.9)
    fewest, frac = least_human_steps(runs), least_fraction(runs, 0.9)
    assert fewest.success_rate == 1.0 and fewest.human_steps_mean <= fixed.human_steps_mean
    assert frac.success_rate >= 0.9 - 1e-9 and frac.human_fraction <= fixed.human_fraction
    # the ratio goes down by making episodes longer, not by needing fewer human steps
    assert frac.episode_steps_mean > fewest.episode_steps_mean
    assert frac.human_steps_mean >= fewest.human_steps_mean - 1e-9
