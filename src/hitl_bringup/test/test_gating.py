"""One source for gating: the graph's arbiter, the in-process loop, the evaluation and the rounds agree
for every task; one rule for an unset threshold (negative), 0 is a legal threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hitl_bringup.eval.common import gate_config
from hitl_bringup.gating import ARBITER_KEYS, GATING_KEYS, GatingError, arbiter_defaults, load_gating
from hitl_bringup.graph import GraphError, available, build_graph
from hitl_bringup.sim_loop import GateConfig
from hitl_core.threshold import UNSET, is_unset, resolve_threshold

TASKS = available("tasks")


def arbiter_params(**given) -> dict:
    spec = next(s for s in build_graph(checkpoint="c.pt", **given) if s.name == "arbiter")
    return spec.parameters


def gating_of(cfg) -> dict:
    """The gating fields of an ArbiterConfig."""
    return {k: getattr(cfg, k) for k in GATING_KEYS}


@pytest.mark.parametrize("task", TASKS)
def test_graph_loop_evaluation_and_rounds_gate_alike(task, monkeypatch):
    loaded = load_gating(task)
    graph = arbiter_params(task=task)
    assert {k: graph[k] for k in GATING_KEYS} == {k: loaded.node_parameters()[k] for k in GATING_KEYS}
    expected = gating_of(loaded.arbiter_config())
    # the in-process loop (what sim_loop.deploy builds per robot) and the evaluation, at the YAML's threshold
    loop = GateConfig.for_task(task)
    assert gating_of(loop.arbiter_config(robot_gated=True)) == expected
    ev = gate_config(task, loaded.threshold, reaction_ticks=3)
    assert gating_of(ev.arbiter_config(robot_gated=True)) == expected
    assert ev.score_every == loaded.score_every == graph_every(task)
    # the fine-tuning rounds: the gate handed to deploy
    from hitl_bringup import rounds

    seen = {}

    class CapturedError(Exception):
        pass

    def fake_deploy(env, policy, n, estimator, gate, *args, **kwargs):
        seen["gate"] = gate
        raise CapturedError

    monkeypatch.setattr(rounds, "deploy", fake_deploy)
    with pytest.raises(CapturedError):
        rounds.collect_round(None, rounds.RoundsConfig(task=task, num_envs=1, threshold=loaded.threshold,
                                                       expert_gate=None), seed=0, estimator=object())
    assert gating_of(seen["gate"].arbiter_config(robot_gated=True)) == expected


def graph_every(task: str) -> int:
    spec = next(s for s in build_graph(checkpoint="c.pt", task=task) if s.name == "uncertainty")
    return spec.parameters["every_n"]


def test_lift_deploys_and_evaluates_with_its_minimum_intervention_time():
    """The issue's example: lift.yaml's t_T = 2 s reaches the evaluation (it used 0 before)."""
    assert arbiter_params(task="lift")["min_intervention_s"] == 2.0
    assert gate_config("lift", 0.3, reaction_ticks=3).min_intervention_s == 2.0
    assert GateConfig.for_task("lift", threshold=0.3).arbiter_config().min_intervention_s == 2.0


def test_defaults_come_from_the_arbiter_config():
    from hitl_teleop.arbiter import ArbiterConfig

    d = ArbiterConfig()
    assert arbiter_defaults() == {k: getattr(d, k) for k in ARBITER_KEYS}
    g = load_gating({"task": "bare"})  # a task YAML without an arbiter section
    assert {k: getattr(g, k) for k in ARBITER_KEYS} == arbiter_defaults() and g.threshold is None


def test_overrides_and_bad_values():
    g = load_gating("lift", {"release_ticks": "5", "min_intervention_s": 0, "threshold": 0.0})
    assert g.release_ticks == 5 and g.min_intervention_s == 0.0 and g.threshold == 0.0
    assert load_gating("lift", {"threshold": UNSET}).threshold == 0.5  # unset override: the YAML's
    with pytest.raises(GatingError, match="unknown gating override"):
        load_gating("lift", {"release_tick": 5})
    with pytest.raises(GatingError, match="is not a int"):
        load_gating("lift", {"release_ticks": 2.5})
    with pytest.raises(ValueError, match="release_ratio"):
        load_gating("lift", {"release_ratio": 0.0})
    with pytest.raises(GatingError, match="unknown task"):
        load_gating("no_such_task")
    assert load_gating("no_such_task", missing_ok=True).threshold is None
    with pytest.raises(GraphError, match="release_ratio"):
        arbiter_params(**{"arbiter.release_ratio": 2.0})
    assert arbiter_params(**{"arbiter.release_ticks": "7"})["release_ticks"] == 7


def test_unset_is_negative_and_nan_is_an_error(tmp_path):
    assert is_unset(None) and is_unset(-1.0) and is_unset(-0.001)
    assert not is_unset(0.0) and not is_unset(0.3)
    with pytest.raises(ValueError, match="not finite"):
        is_unset(float("nan"))
    assert resolve_threshold(0.0, "") == 0.0
    assert resolve_threshold(-1.0, "", required=False) is None
    with pytest.raises(ValueError, match="no threshold"):
        resolve_threshold(-1.0, "")


def _monitor_asks(threshold: float, threshold_file: str, score: float) -> bool:
    """The uncertainty node's decision: its threshold parsing, then result_fields' help_requested."""
    from hitl_policy.nodes.uncertainty_node import resolve_threshold as node_resolve
    from hitl_policy.nodes.uncertainty_node import result_fields
    from hitl_policy.uncertainty.base import UncertaintyResult

    return result_fields(UncertaintyResult(score, "x"), node_resolve(threshold, threshold_file))["help_requested"]


def _arbiter_asks(threshold: float, threshold_file: str, score: float) -> bool:
    """The arbiter node's decision: its threshold parsing (arbiter_node.py), then the Arbiter with a robot
    driving and this uncertainty for a few ticks."""
    from hitl_sim.arms import load_arm_profile
    from hitl_teleop.arbiter import ActionChunkIn, Arbiter, ArbiterConfig, ObservationIn, UncertaintyIn

    profile = load_arm_profile("franka")
    thr = resolve_threshold(threshold, threshold_file, required=False)
    arb = Arbiter(ArbiterConfig(threshold=thr, gating="robot"), profile)
    row = np.concatenate([profile.home, np.full((1, 1), 0.5)], axis=1).reshape(1, -1)
    out = None
    for k in range(3):
        t = 100.0 + 0.1 * k
        arb.on_observation(ObservationIn(t, profile.home.copy(), np.zeros(1), step=k))
        arb.on_action_chunk(ActionChunkIn(t, np.tile(row, (8, 1)), n_execute=4, dt=0.1))
        arb.on_uncertainty(UncertaintyIn(t, score, 0.0))
        out = arb.tick(t)
    return bool(out.state.help_requested)


@pytest.mark.parametrize("score", [0.0, 1e-3, 0.2])
def test_threshold_zero_and_threshold_file_decide_alike_in_monitor_and_arbiter(tmp_path, score):
    zero = tmp_path / "zero.json"
    zero.write_text(json.dumps({"threshold": 0.0}))
    decisions = {_monitor_asks(0.0, "", score), _arbiter_asks(0.0, "", score),
                 _monitor_asks(UNSET, str(zero), score), _arbiter_asks(UNSET, str(zero), score)}
    assert decisions == {score > 0.0}
    tenth = tmp_path / "tenth.yaml"
    tenth.write_text("threshold: 0.1\n")
    assert {_monitor_asks(UNSET, str(tenth), score), _arbiter_asks(UNSET, str(tenth), score),
            _monitor_asks(0.1, "", score), _arbiter_asks(0.1, "", score)} == {score > 0.1}


def test_graph_passes_zero_and_files_to_both_nodes(tmp_path):
    by = {s.name: s.parameters for s in build_graph(checkpoint="c.pt", threshold=0)}
    assert by["arbiter"]["threshold"] == 0.0 and by["uncertainty"]["threshold"] == 0.0  # not the YAML's 0.5
    f = tmp_path / "cal.json"
    f.write_text('{"threshold": 0.25}')
    by = {s.name: s.parameters for s in build_graph(checkpoint="c.pt", threshold_file=str(f))}
    for node in ("arbiter", "uncertainty"):
        assert by[node]["threshold"] == UNSET and by[node]["threshold_file"] == str(f)
    # the arbiter node reads the file exactly as the monitor does
    assert resolve_threshold(by["arbiter"]["threshold"], by["arbiter"]["threshold_file"]) == 0.25
