"""End to end in sim: the deploy graph's real nodes over DDS, started by the runner from build_graph.

A tiny diffusion policy trained in the test; the `random` estimator (score uniform in [0, 1],
registry name) with threshold 0.7, so help is requested within a few ticks and the score soon
stays below threshold * release_ratio: the arbiter must hand control to the simulated operator
(HUMAN) and back to the POLICY. The bag must hold every topic of the graph, and its per-step
labels must agree with the ControlState stream received live: 100 %, with the machine loaded by two
busy processes (labels are joined on the arbiter's (episode, step), not on arrival times).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

import pytest
from hitl_core.ros.testing import RosGraph, ros_imports

with ros_imports():
    from hitl_msgs.msg import ControlState, EpisodeEvent

from hitl_bringup.graph import build_graph
from hitl_bringup.runner import GraphRunner
from hitl_bringup.tiny_policy import train_tiny_policy

pytestmark = [pytest.mark.ros, pytest.mark.slow]

GRAPH_TOPICS = ("observation", "sim/state", "ee_pose", "episode_event", "scene_markers", "action_chunk",
                "uncertainty", "uncertainty_markers", "teleop", "arm_command", "control_state",
                "help_request")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny_policy(tmp_path_factory.mktemp("e2e"), "lift", "diffusion", n_episodes=8, steps=60,
                             hidden=[64, 64], name="policy.pt")


def _logs(path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(path.glob("*.log")))


def test_handover_to_operator_and_back_and_bag_labels(checkpoint, tmp_path, ros_domain):
    from hitl_core.bag_dataset import bags_to_dataset
    from hitl_core.bag_reader import MessageDecoder, iter_bag
    from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT

    ns = f"/e2e{os.getpid()}"
    specs = build_graph(arm="franka", sim=True, task="lift", policy="diffusion", checkpoint=checkpoint,
                        threshold=0.7, record=True, namespace=ns, estimator="random", episodes=5,
                        variant="test", bag=str(tmp_path / "bag"), seed=1,
                        # lift's 2 s minimum intervention often outlasts the operator's episode; keep one
                        **{"arbiter.min_intervention_s": 0.5})
    expected = ["sim_arm", "policy", "uncertainty", "arbiter", "sim_operator", "recorder"]
    assert [s.name for s in specs] == expected
    runner = GraphRunner(specs, workdir=tmp_path, echo=False, log_dir=tmp_path / "logs")
    # a loaded machine: two busy processes for the whole run (a fresh-clone run once gave 6 % wrong labels)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    live: list[ControlState] = []
    ends: set[int] = set()
    graph = RosGraph("e2e_watch", ns, domain=ros_domain)
    node = graph.node
    node.create_subscription(ControlState, "control_state", live.append, 100)
    node.create_subscription(EpisodeEvent, "episode_event",
                             lambda m: ends.add(m.episode) if m.event == EpisodeEvent.EVENT_END else None, 10)
    runner.start()

    def sources() -> list[int]:
        return [m.source for m in live]

    def handed_back() -> bool:
        s = sources()
        if ControlState.SOURCE_HUMAN not in s:
            return False
        first_human = s.index(ControlState.SOURCE_HUMAN)
        return ControlState.SOURCE_POLICY in s[first_human:]

    def returned_low() -> bool:
        """Back to the policy because the score dropped (not only because an episode ended)."""
        return handed_back() and any(m.source == ControlState.SOURCE_POLICY
                                     and m.reason == ControlState.REASON_UNCERTAINTY_LOW for m in live)

    try:
        graph.spin_until(lambda: (returned_low() and ends) or runner.dead(), 240, period=0.1)
        graph.spin_for(1.0)  # let the recorder catch the last messages
    finally:
        graph.close()
        codes = runner.stop()
        for p in busy:
            p.kill()
            p.wait()
    logs = _logs(tmp_path / "logs")
    assert not {n: c for n, c in codes.items() if c not in (0, -2)}, f"nodes failed: {codes}\n{logs}"
    assert live, f"no control_state received\n{logs}"
    s = sources()
    assert ControlState.SOURCE_POLICY in s, logs
    assert handed_back(), f"no POLICY -> HUMAN -> POLICY hand-over; sources {sorted(set(s))}\n{logs}"
    first_human = s.index(ControlState.SOURCE_HUMAN)
    before = [m for m in live[:first_human] if m.help_requested]
    assert before and before[-1].reason == ControlState.REASON_ROBOT_GATED, "HUMAN without a help request"
    # control comes back because the score dropped (an episode that ends while the operator drives also
    # returns control, with another reason: that may come first, so look for the low-uncertainty return)
    returns = [m.reason for m in live[first_human:] if m.source == ControlState.SOURCE_POLICY]
    assert ControlState.REASON_UNCERTAINTY_LOW in returns, f"returns to POLICY with reasons {sorted(set(returns))}"
    assert ends, "no episode ended"

    bags = [p for p in tmp_path.glob("bag*") if p.is_dir()]
    assert len(bags) == 1, f"expected one bag directory, got {bags}"
    bag = bags[0]
    dec = MessageDecoder()
    topics: dict[str, int] = defaultdict(int)
    bag_states = []
    obs_keys = []
    for m in iter_bag(bag):
        topics[m.topic] += 1
        if m.topic == f"{ns}/control_state":
            bag_states.append(dec.decode(m))
        elif m.topic == f"{ns}/observation":
            o = dec.decode(m)
            obs_keys.append((int(o.episode), int(o.step)))
    missing = [t for t in GRAPH_TOPICS if topics.get(f"{ns}/{t}", 0) == 0]
    assert not missing, f"topics missing from the bag: {missing}; recorded {dict(topics)}"

    # the bag's ControlState stream is the one received live (same messages, same order)
    key = lambda m: (m.header.stamp.sec, m.header.stamp.nanosec, m.source, m.reason, m.episode, m.step)  # noqa: E731
    live_keys = [key(m) for m in live]
    common = [key(m) for m in bag_states if live_keys[0] <= key(m) <= live_keys[-1]]
    assert len(common) > 20 and set(common) <= set(live_keys)
    bag_keys = sorted(key(m) for m in bag_states)
    recorded = set(bag_keys)
    lost = [k for k in live_keys if bag_keys[0] <= k <= bag_keys[-1] and k not in recorded]
    assert not lost, f"{len(lost)} control states received live are missing from the bag: {lost[:5]}"

    # per-step labels of the bag vs the live stream: the arbiter's last decision on that observation
    # (episode, step), the previous step's when it made none on it
    ds = bags_to_dataset(bag, robot_namespace=ns)
    assert len(obs_keys) == ds.n_steps
    to_label = {ControlState.SOURCE_POLICY: SOURCE_ROBOT, ControlState.SOURCE_HUMAN: SOURCE_HUMAN,
                ControlState.SOURCE_PAUSED: SOURCE_PAUSED, ControlState.SOURCE_RESET: SOURCE_PAUSED}
    decided: dict[tuple[int, int], int] = {}
    for m in live:
        decided[(int(m.episode), int(m.step))] = SOURCE_PAUSED if m.holding else to_label[m.source]
    # Only the steps the live stream saw whole: the bag goes on while the graph stops (the arbiter's later
    # decisions, e.g. holds once the policy node has exited, are in the bag only), so the live stream's last
    # step and those after it are not compared (they were, and a loaded machine stops slowly: 2/85 wrong)
    last_live = (int(live[-1].episode), int(live[-1].step))
    truth: list[int | None] = []
    last: dict[int, int] = {}
    for e, st in obs_keys:
        if (e, st) in decided:
            last[e] = decided[(e, st)]
        truth.append(last.get(e) if (e, st) < last_live else None)
    checked = [(k, t, int(lab)) for k, t, lab in zip(obs_keys, truth, ds.source) if t is not None]
    wrong = [(k, t, lab) for k, t, lab in checked if t != lab]
    # the old comparison carried the live stream's last decision past its end: how often that differs there
    carried: dict[int, int] = {}
    after = []
    for k, lab in zip(obs_keys, ds.source):
        carried[k[0]] = decided.get(k, carried.get(k[0], -1))
        if k >= last_live:
            after.append(carried[k[0]] != int(lab))
    print(f"labels: {len(checked) - len(wrong)}/{len(checked)} agree with the live stream; {len(after)} steps "
          f"recorded from its last step {last_live} on, not compared ({sum(after)} differ from its last "
          f"decision); join {ds.meta['label_join']}")
    within = [k for k in obs_keys if k < last_live]
    assert len(checked) > 20 and len(checked) >= len(within) - 2 * len(set(e for e, _ in obs_keys))
    def seq(states, k):
        return [(m.source, m.reason, m.holding, m.header.stamp.sec % 100, m.header.stamp.nanosec // 10**6)
                for m in states if (int(m.episode), int(m.step)) == k]
    detail = {k: {"live": seq(live, k), "bag": seq(bag_states, k)} for k, _t, _l in wrong[:3]}
    assert not wrong, (f"{len(wrong)} of {len(checked)} labels differ from the arbiter's stream: {wrong[:10]}; "
                       f"{detail}; join {ds.meta['label_join']}")
    assert ds.meta["label_join"]["by_step"] > 0.6 * ds.n_steps, ds.meta["label_join"]  # the rest: skipped steps
    assert (ds.source == SOURCE_HUMAN).any() and (ds.source == SOURCE_ROBOT).any()
