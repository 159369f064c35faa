"""Bags -> episodes: labels, executed and proposed actions, episode ends and success from the bag alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hitl_bringup.bag import BagWriter, WriterOptions
from hitl_bringup.bag_cli import main as bag_cli
from hitl_core.bag_dataset import bags_to_dataset, parse_dim_name, pre_intervention_mask
from hitl_core.bag_reader import BagError
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, DatasetError
from mcap.writer import Writer as McapWriter

TYPES = {"observation": "Observation", "action_chunk": "ActionChunk", "arm_command": "ArmCommand",
         "control_state": "ControlState", "episode_event": "EpisodeEvent"}
NAMES = ["x", "y", "z", "yaw", "gripper"]
# (episode, step, source, holding): episode 1 has a human takeover in the middle, episode 2 a pause
PLAN = ([(1, i, 1 if 4 <= i <= 6 else 0, False) for i in range(10)]
        + [(2, i, 2 if i == 2 else 0, i == 2) for i in range(6)])


def proposed(ep: int, i: int) -> list[float]:
    return [0.1 * i + ep, 0.2, 0.3, 0.05, 0.0]


def human(ep: int, i: int) -> list[float]:
    return [0.5, 0.1 * i, 0.3 + ep, -0.1, 1.0]


def current(ep: int, i: int) -> list[float]:
    return [0.01 * i, 0.0, 0.2 + ep, 0.0, 0.25]


def pose(v: list[float]) -> dict:
    return {"position": {"x": v[0], "y": v[1], "z": v[2]},
            "orientation": {"x": 0.0, "y": 0.0, "z": math.sin(v[3] / 2), "w": math.cos(v[3] / 2)}}


def write_bag(path, ns="/robot_0", skip=(), garbage_obs=False, plan=PLAN, offset=0.0, trailing=False,
              names=NAMES, late_ns=0, skipped_steps=()):
    """``late_ns``: the arbiter's command and state for a step arrive that much after the observation
    (a loaded machine: after the next one when > 100 ms); ``skipped_steps``: (episode, step) the
    arbiter made no decision on."""
    w = BagWriter(path, WriterOptions(chunk_size=2048, fsync=False))
    for leaf, t in TYPES.items():
        if leaf not in skip:
            w.add_topic(f"{ns}/{leaf}", f"hitl_msgs/msg/{t}")

    def put(leaf, msg, t_ns):
        if leaf not in skip:
            w.write_message(f"{ns}/{leaf}", msg, t_ns)

    t = 10**9
    last_ep = None
    for ep, i, src, hold in plan:
        if ep != last_ep:
            if last_ep is not None:
                put("episode_event", {"episode": last_ep, "event": 1, "success": last_ep == 1}, t)
                t += 10**7
            put("episode_event", {"episode": ep, "event": 0}, t)
            last_ep = ep
        stamp = {"sec": t // 10**9, "nanosec": t % 10**9}
        cur = current(ep, i)
        obs = {"header": {"stamp": stamp, "frame_id": "base"}, "robot_id": ns.strip("/"), "task": "lift",
               "episode": ep, "step": i, "names": ["a", "b", "c"], "data": [ep + offset, i, 0.5],
               "ee_poses": [pose(cur)], "gripper": [cur[4]]}
        if garbage_obs:
            w.write(f"{ns}/observation", b"\x00\x01\x00\x00\xff", t)
        else:
            put("observation", obs, t)
        p = proposed(ep, i)
        put("action_chunk", {"observation_stamp": stamp, "horizon": 2, "action_dim": 5, "dim_names": names,
                             "actions": p + [9.0] * 5}, t + 10**6)
        a = human(ep, i) if src == 1 else p
        decided = {"sec": (t + 2 * 10**6) // 10**9, "nanosec": (t + 2 * 10**6) % 10**9} if late_ns else {}
        if (ep, i) not in skipped_steps:
            cmd = {"header": {"stamp": decided}, "source": src, "hold": hold, "targets": [pose(a)],
                   "gripper": [a[4]]}
            put("arm_command", cmd, t + 2 * 10**6 + late_ns)
            put("control_state", {"header": {"stamp": decided}, "source": src, "holding": hold, "episode": ep,
                                  "step": i, "operator_id": "alice" if src == 1 else ""}, t + 3 * 10**6 + late_ns)
        t += 10**8
    put("episode_event", {"episode": last_ep, "event": 1, "success": last_ep == 1}, t)
    if trailing:  # the driver keeps publishing (and re-announcing) the finished episode: not part of it
        put("observation", {"episode": last_ep, "step": 99, "data": [0.0, 0.0, 0.0]}, t + 10**7)
        put("episode_event", {"episode": last_ep, "event": 1, "success": last_ep == 1, "note": "finished"},
            t + 2 * 10**7)
    w.close()
    return path


def test_two_episodes_with_a_takeover(tmp_path):
    ds = bags_to_dataset(write_bag(tmp_path / "bag", trailing=True))
    assert ds.n_steps == 16 and list(ds.episode_ends) == [10, 16]
    assert list(ds.success) == [True, False]
    label = {0: SOURCE_ROBOT, 1: SOURCE_HUMAN, 2: SOURCE_PAUSED}
    expect_src = [label[s] for _e, _i, s, _h in PLAN]
    assert list(ds.source) == expect_src
    for k, (ep, i, src, _hold) in enumerate(PLAN):
        want = human(ep, i) if src == 1 else current(ep, i) if src == 2 else proposed(ep, i)
        np.testing.assert_allclose(ds.action[k], want, atol=1e-6)
        np.testing.assert_allclose(ds.robot_action[k], proposed(ep, i), atol=1e-6)
        np.testing.assert_allclose(ds.current[k], current(ep, i), atol=1e-6)
        np.testing.assert_allclose(ds.obs[k], [ep, i, 0.5])
    assert ds.meta["action_names"] == NAMES and ds.meta["obs_names"] == ["a", "b", "c"]
    assert ds.meta["operator_ids"] == ["alice"] and list(ds.expert_id) == [0, -1]
    assert ds.meta["task"] == "lift" and ds.meta["incomplete_episodes"] == []
    assert ds.meta["dt"] == pytest.approx(0.1)
    mask = pre_intervention_mask(ds, 2)
    assert list(np.flatnonzero(mask)) == [2, 3]
    assert not pre_intervention_mask(ds, 0).any()
    assert list(np.flatnonzero(pre_intervention_mask(ds, 10))) == [0, 1, 2, 3]
    # the CLI writes the same dataset
    assert bag_cli(["to-dataset", str(tmp_path / "bag"), "--out", str(tmp_path / "d.npz")]) == 0
    again = type(ds).load(tmp_path / "d.npz")
    np.testing.assert_array_equal(again.source, ds.source)
    np.testing.assert_allclose(again.robot_action, ds.robot_action)


def killed_bag(path):
    """A bag written by ``write_bag`` whose file ends two thirds of the way in (the recorder was killed)."""
    bag = write_bag(path)
    data = (bag / "bag_0.mcap").read_bytes()
    (bag / "bag_0.mcap").write_bytes(data[: len(data) * 2 // 3])
    return bag


def test_killed_bag_reads_up_to_the_break(tmp_path):
    bag = killed_bag(tmp_path / "bag")
    ds = bags_to_dataset(bag)
    assert 0 < ds.n_steps < 16
    assert ds.meta["incomplete_episodes"] == ([2] if ds.n_episodes == 2 else [1])


def test_robot_namespace_selects_one_robot(tmp_path):
    a = write_bag(tmp_path / "a", ns="/robot_0")
    b = write_bag(tmp_path / "b", ns="/robot_1", plan=PLAN[:10], offset=100.0)
    one = bags_to_dataset([a, b], robot_namespace="robot_1")
    assert one.n_steps == 10 and one.obs[0, 0] == 101.0
    both = bags_to_dataset([a, b])
    assert both.n_steps == 26 and list(both.episode_ends) == [10, 16, 26]
    with pytest.raises(DatasetError, match="/robot_7/observation"):
        bags_to_dataset(a, robot_namespace="/robot_7")


def test_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="control_state"):
        bags_to_dataset(write_bag(tmp_path / "nocs", skip=("control_state",)))
    with pytest.raises(BagError, match=r"observation.*does not decode"):
        bags_to_dataset(write_bag(tmp_path / "garbage", garbage_obs=True))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BagError, match=r"no metadata.yaml and no .mcap files"):
        bags_to_dataset(empty)
    text = tmp_path / "text.mcap"
    text.write_text("hello")
    with pytest.raises(BagError, match=r"text.mcap: not an MCAP file"):
        bags_to_dataset(text)
    foreign = tmp_path / "foreign.mcap"
    with open(foreign, "wb") as f:
        w = McapWriter(f)
        w.start(profile="", library="test")
        sid = w.register_schema("Obs", "jsonschema", b"{}")
        cid = w.register_channel("/robot_0/observation", "json", sid)
        w.add_message(cid, log_time=1, data=b"{}", publish_time=1)
        w.finish()
    with pytest.raises(BagError, match=r"foreign.mcap.*not a ROS 2 recording"):
        bags_to_dataset(foreign)


def test_dim_names():
    assert parse_dim_name("x") == (0, "x")
    assert parse_dim_name("right_gripper") == (1, "gripper")
    assert parse_dim_name("ee2_yaw") == (2, "yaw")
    assert parse_dim_name("z_1") == (1, "z")
    with pytest.raises(DatasetError, match="elbow"):
        parse_dim_name("elbow")


def test_generic_chunk_names_of_the_sim_width_use_the_sim_layout(tmp_path):
    generic = ["a0", "a1", "a2", "a3", "a4"]   # policy_node without action names in the checkpoint
    ds = bags_to_dataset(write_bag(tmp_path / "generic", plan=PLAN[:10], names=generic))
    assert ds.meta["action_names"] == ["x", "y", "z", "yaw", "gripper"]
    np.testing.assert_allclose(ds.robot_action[3], proposed(1, 3), atol=1e-6)
    np.testing.assert_allclose(ds.action[5], human(1, 5), atol=1e-6)


def test_labels_join_on_the_arbiters_episode_and_step_not_on_arrival_time(tmp_path):
    """A loaded machine delivers the arbiter's decision on step i after observation i+1 (here 150 ms
    late at 10 Hz): a join on receive times would label every step with the previous step's decision
    (wrong at each hand-over); the join on (episode, step) + header stamp is exact. A step the
    arbiter skipped keeps the previous decision of its episode."""
    skipped = {(1, 5)}
    bag = write_bag(tmp_path / "bag", late_ns=150 * 10**6, skipped_steps=skipped)
    ds = bags_to_dataset(bag)
    label = {0: SOURCE_ROBOT, 1: SOURCE_HUMAN, 2: SOURCE_PAUSED}
    previous = {}
    for k, (ep, i, src, _hold) in enumerate(PLAN):
        if (ep, i) in skipped:
            ep_, i_, src, _ = previous[ep]
        else:
            previous[ep] = (ep, i, src, _hold)
            ep_, i_ = ep, i
        assert ds.source[k] == label[src], (ep, i)
        want = human(ep_, i_) if src == 1 else current(ep, i) if src == 2 else proposed(ep_, i_)
        np.testing.assert_allclose(ds.action[k], want, atol=1e-6)
    assert ds.meta["label_join"] == {"by_step": len(PLAN) - 1, "carried": 1, "by_time": 0}
