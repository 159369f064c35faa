"""EpisodeDataset <-> LeRobotDataset v3.0 directories (pure: numpy + pyarrow, no lerobot, no rclpy).

Layout written (LeRobot's v3 layout: lerobot/datasets/utils.py and dataset_metadata.py upstream):

    meta/info.json                           codebase_version "v3.0", fps, features, totals, paths
    meta/stats.json                          per feature: min max mean std count q01 q10 q50 q90 q99
    meta/tasks.parquet                       task (string), task_index (int64)
    meta/episodes/chunk-000/file-000.parquet one row per episode: episode_index, tasks, length,
                                             data/chunk_index, data/file_index, dataset_from_index,
                                             dataset_to_index, meta/episodes/*, stats/<feature>/<stat>,
                                             and ours: success, robot_id, operator, hitl/episode
    meta/hitl.json                           ours: the EpisodeDataset meta and the label vocabularies
    data/chunk-000/file-000.parquet          one row per frame (the features below)

Frame features: ``observation.state`` (Observation.data), ``observation.ee_pose`` (the arm's pose in
the action layout), ``action`` (the command the arbiter applied), ``policy_action`` (what the policy
proposed; NaN unknown), ``intervention`` (bool: a human drove this step, LeRobot's own name),
``control.source`` / ``control.reason`` (hitl_msgs/ControlState codes, -1 none), ``control.holding``,
``control.operator``, and LeRobot's ``timestamp`` (frame_index / fps: the control rate),
``frame_index``, ``episode_index``, ``index``, ``task_index``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hitl_core.control_source import ControlReason, ControlSource
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, DatasetError, EpisodeDataset

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_MB = 100
VIDEO_FILES_SIZE_MB = 200
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
SOURCE_NAMES = [s.name for s in ControlSource]  # hitl_msgs/ControlState SOURCE_*
REASON_NAMES = [r.name for r in ControlReason]  # hitl_msgs/ControlState REASON_*
DEFAULT_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in requirements/python.txt
        raise DatasetError("LeRobot datasets need pyarrow (pip install pyarrow, see requirements/)") from exc
    return pa, pq


def is_lerobot_dir(path: str | Path) -> bool:
    return (Path(path) / "meta" / "info.json").is_file()


def load_episodes(path: str | Path) -> EpisodeDataset:
    """An EpisodeDataset from a ``.npz`` (EpisodeDataset.save) or a LeRobotDataset v3 directory."""
    return read_lerobot(path) if Path(path).is_dir() else EpisodeDataset.load(path)


# ------------------------------------------------------------------------------ stats
def feature_stats(values: np.ndarray) -> dict[str, list]:
    """LeRobot's per-feature stats over frames (axis 0); NaN entries ignored, all-NaN columns give 0."""
    x = np.asarray(values, np.float64).reshape(len(values), -1)
    finite = np.isfinite(x)
    cols_ok = finite.any(axis=0)
    safe = np.where(finite, x, np.nan)
    safe[:, ~cols_ok] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = {"min": np.nanmin(safe, 0), "max": np.nanmax(safe, 0), "mean": np.nanmean(safe, 0),
                 "std": np.nanstd(safe, 0)}
        for q in QUANTILES:
            stats[f"q{round(q * 100):02d}"] = np.nanquantile(safe, q, axis=0)
    out: dict[str, list] = {k: v.tolist() for k, v in stats.items()}
    out["count"] = [int(finite.all(axis=1).sum())]
    return out


# ----------------------------------------------------------------------------- writing
def write_lerobot(ds: EpisodeDataset, out: str | Path, *, labels: Any | None = None, fps: int | None = None,
                  robot_type: str | None = None, overwrite: bool = False, cameras: dict | None = None) -> Path:
    """Write ``ds`` as a LeRobotDataset v3.0 under ``out``. ``labels``: a ``bag_dataset.StepLabels``
    (control source/reason/operator per step); without it they are derived from ``ds.source``.
    ``cameras``: ``lerobot_video.bag_cameras`` (one frame per step) -> one video feature each.
    Written next to ``out`` and renamed at the end: a failed export leaves no half dataset behind."""
    final = Path(out)
    if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not overwrite)):
        raise DatasetError(f"{final}: exists and is not empty (pass overwrite)")
    final.parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _write_into(ds, root, labels, fps, robot_type, cameras)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    root.chmod(0o755)  # mkdtemp's 0700 would hide the dataset from other users
    if final.exists():
        shutil.rmtree(final)
    root.rename(final)
    return final


def _write_into(ds: EpisodeDataset, root: Path, labels: Any | None, fps: int | None, robot_type: str | None,
                cameras: dict | None) -> None:
    pa, pq = _pa()
    if ds.n_steps == 0:
        raise DatasetError("nothing to export: the dataset has no steps")
    n, e = ds.n_steps, ds.n_episodes
    if fps is None:
        dt = float(ds.meta.get("dt") or 0.0)
        fps = max(1, round(1.0 / dt)) if dt > 0 else 10
    ep_index = ds.episode_index().astype(np.int64)
    starts = ds.episode_starts()
    frame_index = (np.arange(n) - starts[ep_index]).astype(np.int64)
    timestamp = (frame_index / float(fps)).astype(np.float32)
    robot_ids = list(ds.meta.get("episode_robot") or [str(ds.meta.get("robot_id", ""))] * e)
    task_name = str(ds.meta.get("task") or "unknown task")
    tasks = [task_name]
    task_index = np.zeros(n, np.int64)
    if labels is not None:
        if len(labels.control_source) != n:
            raise DatasetError(f"labels have {len(labels.control_source)} steps, the dataset {n}")
        src, reason = labels.control_source.astype(np.int64), labels.control_reason.astype(np.int64)
        holding, operator = labels.holding.astype(bool), [str(o) for o in labels.operator]
    else:  # only the derived label is known
        src = np.where(ds.source == SOURCE_HUMAN, 1, np.where(ds.source == SOURCE_ROBOT, 0, 2)).astype(np.int64)
        reason = np.full(n, -1, np.int64)
        holding = ds.source == SOURCE_PAUSED
        ops = ds.meta.get("operator_ids") or []
        operator = [""] * n
        for k, sl in enumerate(ds.episode_slices()):
            if 0 <= ds.expert_id[k] < len(ops):
                for i in range(sl.start, sl.stop):
                    operator[i] = ops[ds.expert_id[k]] if ds.source[i] == SOURCE_HUMAN else ""
    intervention = ds.source == SOURCE_HUMAN
    act_names = list(ds.meta.get("action_names") or [f"a{i}" for i in range(ds.act_dim)])
    obs_names = list(ds.meta.get("obs_names") or [f"s{i}" for i in range(ds.obs_dim)])
    if len(obs_names) != ds.obs_dim:
        obs_names = [f"s{i}" for i in range(ds.obs_dim)]

    columns: dict[str, tuple[np.ndarray | list, str, list[str] | None]] = {
        "observation.state": (ds.obs, "float32", obs_names),
        "observation.ee_pose": (ds.current, "float32", act_names),
        "action": (ds.action, "float32", act_names),
        "policy_action": (ds.robot_action, "float32", act_names),
        "intervention": (intervention, "bool", None),
        "control.source": (src, "int64", None),
        "control.reason": (reason, "int64", None),
        "control.holding": (holding, "bool", None),
        "control.operator": (operator, "string", None),
        "timestamp": (timestamp, "float32", None),
        "frame_index": (frame_index, "int64", None),
        "episode_index": (ep_index, "int64", None),
        "index": (np.arange(n, dtype=np.int64), "int64", None),
        "task_index": (task_index, "int64", None),
    }
    features: dict[str, dict] = {}
    arrays: dict[str, Any] = {}
    for key, (values, dtype, names) in columns.items():
        if dtype == "string":
            features[key] = {"dtype": "string", "shape": [1], "names": None}
            arrays[key] = pa.array(values, pa.string())
            continue
        arr = np.asarray(values)
        width = 1 if arr.ndim == 1 else arr.shape[1]
        features[key] = {"dtype": dtype, "shape": [width], "names": names}
        typ = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}[dtype]
        if arr.ndim == 1:
            arrays[key] = pa.array(arr.astype(dtype), typ)
        else:
            flat = pa.array(arr.astype(dtype).reshape(-1), typ)
            arrays[key] = pa.FixedSizeListArray.from_arrays(flat, width)
    numeric = {k: np.asarray(v[0], np.float64) for k, v in columns.items() if v[1] != "string"}

    data_rel = DATA_PATH.format(chunk_index=0, file_index=0)
    _write_table(pq, pa.table(arrays), root / data_rel)
    _write_table(pq, _tasks_table(pa, tasks), root / "meta" / "tasks.parquet")

    # per-episode metadata (+ per-episode stats, as LeRobot's save_episode stores them)
    ops = list(ds.meta.get("operator_ids") or [])
    ep_numbers = list(ds.meta.get("episodes") or [])
    if len(ep_numbers) != e:  # several bags/robots: their episode numbers repeat; keep the order only
        ep_numbers = list(range(1, e + 1))
    ends = ds.episode_ends
    ep_cols: dict[str, list] = {
        "episode_index": list(range(e)), "tasks": [[task_name]] * e,
        "length": [int(b - a) for a, b in zip(starts, ends)],
        "data/chunk_index": [0] * e, "data/file_index": [0] * e,
        "dataset_from_index": [int(a) for a in starts], "dataset_to_index": [int(b) for b in ends],
        "meta/episodes/chunk_index": [0] * e, "meta/episodes/file_index": [0] * e,
        "success": [bool(s) for s in ds.success], "robot_id": [str(r) for r in robot_ids],
        "operator": [ops[k] if 0 <= k < len(ops) else "" for k in ds.expert_id],
        "hitl/episode": [int(x) for x in ep_numbers],
    }
    for key, values in numeric.items():
        per_ep = [feature_stats(values[a:b]) for a, b in zip(starts, ends)]
        for stat in per_ep[0]:
            ep_cols[f"stats/{key}/{stat}"] = [p[stat] for p in per_ep]

    stats = {key: feature_stats(values) for key, values in numeric.items()}
    for key, cam in (cameras or {}).items():
        if len(cam.frames) != n:
            raise DatasetError(f"camera {key}: {len(cam.frames)} frames for {n} steps")
        from hitl_policy.lerobot_video import encode_video, video_stats

        info_block = encode_video(cam.frames, root / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0),
                                  fps)
        h, w, c = cam.shape
        features[key] = {"dtype": "video", "shape": [h, w, c], "names": ["height", "width", "channels"],
                         "info": info_block}
        stats[key] = video_stats(cam.frames, QUANTILES)
        durations = [(b - a) / float(fps) for a, b in zip(starts, ends)]
        offsets = np.concatenate([[0.0], np.cumsum(durations)])
        per_ep = [video_stats(cam.frames[a:b], QUANTILES) for a, b in zip(starts, ends)]
        ep_cols[f"videos/{key}/chunk_index"] = [0] * e
        ep_cols[f"videos/{key}/file_index"] = [0] * e
        ep_cols[f"videos/{key}/from_timestamp"] = [float(x) for x in offsets[:-1]]
        ep_cols[f"videos/{key}/to_timestamp"] = [float(x) for x in offsets[1:]]
        for stat in per_ep[0]:
            ep_cols[f"stats/{key}/{stat}"] = [p[stat] for p in per_ep]
    _write_table(pq, pa.table(ep_cols), root / EPISODES_FILE)
    _write_json(root / "meta" / "stats.json", stats)
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": robot_type or ds.meta.get("arm") or None,
        "total_episodes": e, "total_frames": n, "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILES_SIZE_MB,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_MB, "fps": int(fps), "splits": {"train": f"0:{e}"},
        "data_path": DATA_PATH, "video_path": VIDEO_PATH if cameras else None, "features": features,
    }
    _write_json(root / "meta" / "info.json", info)
    hitl = {"meta": ds.meta, "expert_id": [int(x) for x in ds.expert_id], "source_names": SOURCE_NAMES,
            "reason_names": REASON_NAMES, "label_rule": "intervention = control.source HUMAN and not "
            "control.holding; POLICY and not holding = robot; otherwise paused"}
    _write_json(root / "meta" / "hitl.json", hitl)


def _tasks_table(pa: Any, tasks: list[str]) -> Any:
    """meta/tasks.parquet as pandas writes LeRobot's DataFrame: column task_index, index 'task'
    (the pandas schema metadata makes pandas.read_parquet restore the index without pandas here)."""
    pandas_meta = {
        "index_columns": ["task"], "column_indexes": [],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                     "numpy_type": "int64", "metadata": None},
                    {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
                     "metadata": None}],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3",
    }
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def _write_table(pq: Any, table: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, allow_nan=False, default=_json_default))
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# ----------------------------------------------------------------------------- reading
def _column(table: Any, key: str) -> np.ndarray:
    """A column as numpy: (N,) for scalars, (N, width) for (fixed-size) list columns."""
    import pyarrow as pa

    col = table.column(key).combine_chunks()
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
        return col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1)
    return col.to_numpy(zero_copy_only=False)


def read_lerobot(path: str | Path) -> EpisodeDataset:
    """A LeRobotDataset v3 directory -> EpisodeDataset (ours round-trip exactly; others need
    ``observation.state`` and ``action``; ``intervention`` labels human steps when present)."""
    _, pq = _pa()
    root = Path(path)
    if not is_lerobot_dir(root):
        raise DatasetError(f"{root}: no meta/info.json: not a LeRobotDataset directory")
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{root}/meta/info.json: not JSON ({exc})") from exc
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3."):
        raise DatasetError(f"{root}: codebase_version {version!r}; this reader reads LeRobot v3.x")
    feats = info.get("features") or {}
    for key in ("observation.state", "action"):
        if key not in feats:
            raise DatasetError(f"{root}: feature {key!r} missing from meta/info.json")
    files = sorted((root / "data").glob("*/*.parquet"))
    if not files:
        raise DatasetError(f"{root}/data: no parquet files")
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(f) for f in files]).sort_by("index")
    obs = _column(table, "observation.state").astype(np.float32)
    action = _column(table, "action").astype(np.float32)
    n = len(action)
    obs, action = obs.reshape(n, -1), action.reshape(n, -1)
    names = set(table.column_names)
    current = _column(table, "observation.ee_pose").reshape(n, -1) if "observation.ee_pose" in names else action
    robot_action = (_column(table, "policy_action").reshape(n, -1) if "policy_action" in names
                    else np.full_like(action, np.nan))
    if "control.source" in names:
        src = _column(table, "control.source").astype(np.int64)
        hold = _column(table, "control.holding").astype(bool) if "control.holding" in names else np.zeros(n, bool)
        source = np.where(hold, SOURCE_PAUSED, np.where(src == 1, SOURCE_HUMAN,
                                                        np.where(src == 0, SOURCE_ROBOT, SOURCE_PAUSED)))
    elif "intervention" in names:
        source = np.where(_column(table, "intervention").astype(bool), SOURCE_HUMAN, SOURCE_ROBOT)
    else:
        source = np.full(n, SOURCE_ROBOT)
    ep = _column(table, "episode_index").astype(np.int64)
    cut = np.flatnonzero(np.diff(ep) != 0) + 1
    ends = np.concatenate([cut, [n]]).astype(np.int64)
    e = len(ends)
    hitl_path = root / "meta" / "hitl.json"
    hitl = json.loads(hitl_path.read_text()) if hitl_path.exists() else {}
    meta = dict(hitl.get("meta") or {})
    meta.setdefault("action_names", feats["action"].get("names"))
    meta.setdefault("obs_names", feats["observation.state"].get("names"))
    meta["dt"] = 1.0 / float(info["fps"])
    meta["lerobot_root"] = str(root)
    success = np.ones(e, bool)
    ep_file = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if ep_file:
        eps = pa.concat_tables([pq.read_table(f) for f in ep_file]).sort_by("episode_index")
        if "success" in eps.column_names and eps.num_rows == e:
            success = np.asarray(eps.column("success").to_pylist(), bool)
    expert = np.asarray(hitl.get("expert_id") or [-1] * e, np.int16)
    if len(expert) != e:
        expert = np.full(e, -1, np.int16)
    return EpisodeDataset(obs=obs, action=action, current=current, episode_ends=ends, source=source,
                          robot_action=robot_action, success=success, expert_id=expert, meta=meta)
