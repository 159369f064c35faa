"""The oracle bound on human effort for lift's unseen objects (hitl_bringup.effort_bound)."""

import numpy as np
import pytest
from hitl_bringup.effort_bound import SwitchRow, bound, sweep


def _expert_grasp_steps(seeds: list[int]) -> float:
    """Mean tick at which the scripted expert alone holds the object (from a fresh reset)."""
    from hitl_sim import make_env, make_expert

    env = make_env("lift", arm="franka", num_envs=len(seeds), variant="test", seed=0)
    obs = env.reset(np.arange(len(seeds)), seeds)
    expert, first = make_expert("lift"), np.full(len(seeds), -1)
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
