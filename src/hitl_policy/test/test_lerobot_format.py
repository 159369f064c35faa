"""Bags -> LeRobotDataset v3.0 -> training set: same steps, actions and labels; the v3 layout field by field.

lerobot itself is not installed (lerobot 0.4.4 pins diffusers<0.36, the venv has 0.42.1), so the files
are checked against the v3 layout of lerobot/datasets/{utils,dataset_metadata,io_utils}.py upstream.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hitl_bringup.bag.repair import repair_bag
from hitl_bringup.bag_cli import main as bag_cli
from hitl_core.bag_dataset import bags_to_dataset
from hitl_core.data import SOURCE_HUMAN
from hitl_policy.lerobot_format import QUANTILES, load_episodes, read_lerobot
from test_bag_dataset import PLAN, killed_bag, write_bag

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

STAT_KEYS = {"min", "max", "mean", "std", "count"} | {f"q{round(q * 100):02d}" for q in QUANTILES}
EPISODE_COLUMNS = {"episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
                   "dataset_from_index", "dataset_to_index", "meta/episodes/chunk_index",
                   "meta/episodes/file_index"}
ARROW = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_(), "string": pa.string()}


def export(bags, out) -> int:
    return bag_cli(["export-lerobot", *map(str, bags), "--out", str(out)])


def check_v3_layout(root) -> dict:
    """The LeRobot v3.0 layout, field by field; returns info.json."""
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    for key, typ in (("fps", int), ("total_episodes", int), ("total_frames", int), ("total_tasks", int),
                     ("chunks_size", int), ("data_files_size_in_mb", int), ("video_files_size_in_mb", int),
                     ("data_path", str), ("features", dict), ("splits", dict)):
        assert isinstance(info[key], typ), key
    assert "video_path" in info and "robot_type" in info
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["splits"] == {"train": f"0:{info['total_episodes']}"}
    feats = info["features"]
    for key, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                       ("index", "int64"), ("task_index", "int64")):
        assert feats[key] == {"dtype": dtype, "shape": [1], "names": None}
    for ft in feats.values():
        assert set(ft) >= {"dtype", "shape", "names"} and isinstance(ft["shape"], list)
    # data: one parquet file per template, every feature a column of the declared dtype and width
    data = pq.read_table(root / info["data_path"].format(chunk_index=0, file_index=0))
    videos = {k for k, ft in feats.items() if ft["dtype"] == "video"}
    assert set(data.column_names) == set(feats) - videos
    assert data.num_rows == info["total_frames"]
    for key, ft in feats.items():
        if key in videos:
            assert ft["names"] == ["height", "width", "channels"] and len(ft["shape"]) == 3
            assert {"video.height", "video.width", "video.codec", "video.pix_fmt", "video.fps"} <= set(ft["info"])
            continue
        typ = data.schema.field(key).type
        if ft["shape"] == [1]:
            assert typ == ARROW[ft["dtype"]], key
        else:
            assert pa.types.is_fixed_size_list(typ) and typ.list_size == ft["shape"][0], key
            assert typ.value_type == ARROW[ft["dtype"]], key
            assert ft["names"] is None or len(ft["names"]) == ft["shape"][0]
    cols = {k: data.column(k).to_pylist() for k in ("index", "episode_index", "frame_index", "timestamp")}
    assert cols["index"] == list(range(data.num_rows))
    np.testing.assert_allclose(cols["timestamp"], np.array(cols["frame_index"]) / info["fps"], atol=1e-6)
    # episodes metadata
    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    assert set(eps.column_names) >= EPISODE_COLUMNS and eps.num_rows == info["total_episodes"]
    e = eps.to_pydict()
    assert e["episode_index"] == list(range(info["total_episodes"]))
    assert e["dataset_from_index"][0] == 0 and e["dataset_to_index"][-1] == info["total_frames"]
    assert e["dataset_from_index"][1:] == e["dataset_to_index"][:-1]
    assert [b - a for a, b in zip(e["dataset_from_index"], e["dataset_to_index"])] == e["length"]
    for k, (a, b) in enumerate(zip(e["dataset_from_index"], e["dataset_to_index"])):
        assert set(cols["episode_index"][a:b]) == {k} and cols["frame_index"][a:b] == list(range(b - a))
    # tasks: pandas index 'task' + column task_index (LeRobot reads it with pandas.read_parquet)
    tasks = pq.read_table(root / "meta/tasks.parquet")
    pandas_meta = json.loads(tasks.schema.metadata[b"pandas"])
    assert pandas_meta["index_columns"] == ["task"] and tasks.column("task_index").to_pylist() == [0]
    assert all(t == [tasks.column("task").to_pylist()[0]] for t in e["tasks"])
    # stats: every non-string feature, LeRobot's keys, one value per dimension
    stats = json.loads((root / "meta/stats.json").read_text())
    for key, ft in feats.items():
        if ft["dtype"] == "string":
            assert key not in stats
            continue
        assert set(stats[key]) == STAT_KEYS, key
        for s in STAT_KEYS - {"count"}:
            want = [3, 1, 1] if key in videos else [ft["shape"][0]]
            assert list(np.shape(stats[key][s])) == want, (key, s)
        assert f"stats/{key}/mean" in eps.column_names
    return info


def test_bag_to_lerobot_to_training_set_round_trip(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag", trailing=True)
    out = tmp_path / "lerobot"
    assert export([bag], out) == 0
    assert "2 episodes, 16 frames (3 intervention)" in capsys.readouterr().out
    info = check_v3_layout(out)
    assert info["fps"] == 10 and info["total_episodes"] == 2 and info["total_frames"] == 16
    ref = bags_to_dataset(bag)
    back = load_episodes(out)
    assert back.n_steps == ref.n_steps and list(back.episode_ends) == list(ref.episode_ends)
    for name in ("obs", "action", "current"):
        np.testing.assert_allclose(getattr(back, name), getattr(ref, name), atol=1e-6)
    np.testing.assert_allclose(back.robot_action, ref.robot_action, atol=1e-6)
    np.testing.assert_array_equal(back.source, ref.source)
    np.testing.assert_array_equal(back.success, ref.success)
    np.testing.assert_array_equal(back.expert_id, ref.expert_id)
    assert back.meta["action_names"] == ref.meta["action_names"] and back.meta["operator_ids"] == ["alice"]
    data = pq.read_table(out / "data/chunk-000/file-000.parquet").to_pydict()
    assert data["intervention"] == [s == 1 for _e, _i, s, _h in PLAN]
    assert data["control.source"] == [s for _e, _i, s, _h in PLAN]
    assert data["control.holding"] == [h for _e, _i, _s, h in PLAN]
    assert data["control.operator"] == ["alice" if s == 1 else "" for _e, _i, s, _h in PLAN]
    assert (back.source == SOURCE_HUMAN).sum() == 3
    eps = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert eps["success"] == [True, False] and eps["hitl/episode"] == [1, 2]
    assert eps["operator"] == ["alice", ""] and eps["tasks"] == [["lift"], ["lift"]]
    # a non-empty output is not overwritten
    assert export([bag], out) == 2
    assert "exists and is not empty" in capsys.readouterr().err


@pytest.mark.slow  # torch + diffusers import and a 2-step training: 25-35 s on the loaded machine
def test_hitl_train_reads_a_lerobot_directory(tmp_path):
    from hitl_policy.cli.train import main as train

    out = tmp_path / "lerobot"
    assert export([write_bag(tmp_path / "bag")], out) == 0
    ckpt = tmp_path / "c.pt"
    assert train(["--data", str(out), "--policy", "diffusion", "--out", str(ckpt), "--steps", "2",
                  "--batch-size", "8", "--set", "hidden=[8,8]", "--threads", "1", "--no-progress"]) == 0
    assert ckpt.exists()


def test_hitl_finetune_reads_lerobot_directories(tmp_path):
    from argparse import Namespace

    from hitl_policy.cli.finetune import load_inputs

    out = tmp_path / "lerobot"
    assert export([write_bag(tmp_path / "bag")], out) == 0
    pretrain, rounds = load_inputs(Namespace(data=[str(out)], bags=[], robot=None, pretrain=str(out)))
    assert pretrain.n_steps == rounds[0].n_steps == 16 and (rounds[0].source == SOURCE_HUMAN).sum() == 3


def test_killed_bag_exports_what_it_holds(tmp_path):
    bag = killed_bag(tmp_path / "bag")
    killed = bags_to_dataset(bag)
    assert 0 < killed.n_steps < 16
    assert export([bag], tmp_path / "unrepaired") == 0
    repair_bag(bag)
    assert export([bag], tmp_path / "repaired") == 0
    for out in ("unrepaired", "repaired"):
        info = check_v3_layout(tmp_path / out)
        back = read_lerobot(tmp_path / out)
        assert info["total_frames"] == killed.n_steps == back.n_steps
        np.testing.assert_array_equal(back.source, killed.source)
        np.testing.assert_allclose(back.action, killed.action, atol=1e-6)
        assert not back.success[-1]  # the killed episode has no END event


def test_bag_without_labels_is_refused(tmp_path, capsys):
    out = tmp_path / "lerobot"
    assert export([write_bag(tmp_path / "nolabels", skip=("control_state",))], out) == 2
    err = capsys.readouterr().err
    assert "export-lerobot" in err and "control_state has no messages" in err
    assert not out.exists()


def test_a_failed_export_leaves_nothing_behind(tmp_path):
    from hitl_core.data import DatasetError
    from hitl_policy.lerobot_format import write_lerobot
    from hitl_policy.lerobot_video import Camera

    ds = bags_to_dataset(write_bag(tmp_path / "bag"))
    short = Camera("observation.images.cam", [np.zeros((8, 8, 3), np.uint8)] * 3)   # 3 frames, 16 steps
    with pytest.raises(DatasetError, match="3 frames for 16 steps"):
        write_lerobot(ds, tmp_path / "out", cameras={short.key: short})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag"]


def test_foreign_or_old_directories_are_refused(tmp_path):
    from hitl_core.data import DatasetError

    with pytest.raises(DatasetError, match="not a LeRobotDataset"):
        read_lerobot(tmp_path)
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/info.json").write_text(json.dumps({"codebase_version": "v2.1", "features": {}}))
    with pytest.raises(DatasetError, match=r"v2\.1"):
        read_lerobot(tmp_path)


def obs_log_times(plan=PLAN) -> list[int]:
    """When write_bag logs each observation (its timeline: 100 ms a step, 10 ms per episode event)."""
    t, last, out = 10**9, None, []
    for ep, *_ in plan:
        if ep != last:
            if last is not None:
                t += 10**7
            last = ep
        out.append(t)
        t += 10**8
    return out


def test_camera_images_become_a_video_feature(tmp_path):
    av = pytest.importorskip("av", reason="PyAV encodes the video (requirements/python.txt)")
    from hitl_bringup.bag import BagWriter, WriterOptions

    bag = write_bag(tmp_path / "bag")
    cam = BagWriter(tmp_path / "cam", WriterOptions(fsync=False))
    cam.add_topic("/robot_0/camera/image_raw", "sensor_msgs/msg/Image")
    h, w = 64, 96
    for k, t in enumerate(obs_log_times()):
        for dt, level in ((2 * 10**6, 0), (5 * 10**6, 12 * k + 20)):  # the latest before the next step counts
            pix = np.zeros((h, w, 3), np.uint8)
            pix[:, :, 0] = level
            pix[:, :, 2] = 255 - level
            cam.write_message("/robot_0/camera/image_raw", {
                "header": {"frame_id": "cam"}, "height": h, "width": w, "encoding": "rgb8", "is_bigendian": 0,
                "step": w * 3, "data": pix.tobytes()}, t + dt)
    cam.close()
    for f in (tmp_path / "cam").glob("*.mcap"):  # a second file of the same bag
        f.rename(bag / "bag_1.mcap")
    out = tmp_path / "lerobot"
    assert export([bag], out) == 0
    info = check_v3_layout(out)
    key = "observation.images.camera"
    assert info["features"][key]["shape"] == [h, w, 3] and info["video_path"]
    assert info["features"][key]["info"]["video.codec"] == "av1"
    eps = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert eps[f"videos/{key}/from_timestamp"] == [0.0, 1.0] and eps[f"videos/{key}/to_timestamp"] == [1.0, 1.6]
    video = out / info["video_path"].format(video_key=key, chunk_index=0, file_index=0)
    with av.open(str(video)) as f:
        frames = [(float(fr.time), fr.to_ndarray(format="rgb24")) for fr in f.decode(video=0)]
    assert len(frames) == info["total_frames"] == 16
    for k, (t, img) in enumerate(frames):
        assert t == pytest.approx(k / info["fps"], abs=1e-3)
        assert abs(float(img[:, :, 0].mean()) - (12 * k + 20)) < 4, k   # AV1 is lossy: a few levels
    stats = json.loads((out / "meta/stats.json").read_text())[key]
    assert stats["count"] == [16] and 0.0 <= stats["mean"][0][0][0] <= 1.0
