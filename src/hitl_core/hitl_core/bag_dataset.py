"""rosbag2 MCAP recordings -> training episodes (pure: mcap + mcap_ros2, no rclpy).

Reading (hitl_core/bag_reader.py) tolerates killed recordings: every complete chunk before the
broken end of a file is used. Steps, per robot namespace: step i is the i-th
``observation`` message (by the recorder's log time). Its label is joined on what the arbiter
applied, not on arrival times (which a loaded machine reorders): the last ``control_state`` whose
(episode, step) is the observation's, and the executed action is the ``arm_command`` the arbiter
published with it (same header stamp). A step the arbiter made no decision on (two observations
between its ticks) keeps the previous step's decision of that episode. Only a step with neither
falls back to time: the latest ``control_state`` / ``arm_command`` received before the next
observation. ``meta['label_join']`` counts the steps joined each way.
Episodes are the runs of equal ``Observation.episode``; success comes from
the ``episode_event`` END of that episode (False when none was recorded, e.g. a killed run);
observations of an episode received after its END event are dropped.

Action layout (``meta['action_names']``): the ``dim_names`` of the bag's ``action_chunk`` messages
(what the policy outputs), else (no chunks, or generic names like ``a0..a4`` of the right width)
the simulator's layout (hitl_sim.core.ee_names): ``x, y, z, yaw,
gripper`` per end effector, prefixed ``left_``/``right_`` for two arms. Each name maps to one field
of an end effector of ``ArmCommand``: ``x|y|z`` -> ``targets[k].position``, ``yaw`` -> the rotation
of ``targets[k].orientation`` about the base z axis, ``qx..qw`` -> the quaternion, ``gripper`` ->
``gripper[k]``; the arm index ``k`` comes from a ``left_``/``right_``/``ee<k>_`` prefix or a
``_<k>``/``_l``/``_r`` suffix (none: arm 0). The same mapping turns ``Observation.ee_poses`` +
``gripper`` into ``current``.
Labels: ControlState POLICY -> SOURCE_ROBOT, HUMAN -> SOURCE_HUMAN, PAUSED/RESET or a holding
arm -> SOURCE_PAUSED; while holding, the executed action is the current pose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hitl_core.bag_reader import BagError, McapScan, MessageDecoder, iter_bag
from hitl_core.control_source import ControlSource
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, DatasetError, EpisodeDataset

TOPICS_REQUIRED = ("observation", "arm_command", "control_state")
TOPICS_OPTIONAL = ("action_chunk", "episode_event")
_EVENT_END = 1  # EpisodeEvent.END


# ---------------------------------------------------------------------- action layout
_ARM_AFFIX = re.compile(r"^(?:(left|right|l|r|ee\d+|\d+)_)?(.+?)(?:_(left|right|l|r|\d+))?$")
_FIELDS = {"x", "y", "z", "yaw", "qx", "qy", "qz", "qw", "gripper"}


def parse_dim_name(name: str) -> tuple[int, str]:
    """'x' -> (0, 'x'); 'right_gripper' / 'ee1_yaw' / 'gripper_1' / 'z_r' -> (1, ...).

    DatasetError when the name is not an end-effector field."""
    m = _ARM_AFFIX.match(name.strip().lower())
    fieldname = m.group(2) if m else ""
    affix = (m.group(1) or m.group(3)) if m else None
    if fieldname in ("grip", "g"):
        fieldname = "gripper"
    if fieldname not in _FIELDS:
        raise DatasetError(f"action dimension {name!r} not understood (expected x|y|z|yaw|qx..qw|gripper "
                           "with an optional arm affix like left_/right_/ee<k>_/_<k>)")
    if affix is None:
        return 0, fieldname
    named = {"left": 0, "l": 0, "right": 1, "r": 1}
    return (named[affix] if affix in named else int(affix.removeprefix("ee"))), fieldname


def default_action_names(n_arms: int) -> list[str]:
    """The simulator's action layout (hitl_sim.core.ee_names): [x, y, z, yaw, gripper] per arm."""
    fields = ["x", "y", "z", "yaw", "gripper"]
    if n_arms <= 1:
        prefixes = [""]
    else:
        prefixes = ["left_", "right_"] if n_arms == 2 else [f"ee{i}_" for i in range(n_arms)]
    return [p + f for p in prefixes for f in fields]


def _layout_names(chunk_names: list[str] | None, n_arms: int, where: str) -> list[str]:
    """The chunk's dim_names; generic ones (a0, a1...) of the simulator's width mean its layout."""
    default = default_action_names(n_arms)
    if not chunk_names:
        return default
    try:
        for n in chunk_names:
            parse_dim_name(n)
        return chunk_names
    except DatasetError as exc:
        if len(chunk_names) == len(default):
            return default
        raise DatasetError(f"{where}: {exc}") from exc


def _yaw(q: Any) -> float:
    return float(np.arctan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z)))


def _pose_vector(poses: list[Any], gripper: list[float], layout: list[tuple[int, str]]) -> np.ndarray:
    out = np.full(len(layout), np.nan)
    for j, (arm, f) in enumerate(layout):
        if f == "gripper":
            if arm < len(gripper):
                out[j] = gripper[arm]
        elif arm < len(poses):
            pose = poses[arm]
            if f in ("x", "y", "z"):
                out[j] = getattr(pose.position, f)
            elif f == "yaw":
                out[j] = _yaw(pose.orientation)
            else:
                out[j] = getattr(pose.orientation, f[1])
    return out


# --------------------------------------------------------------------------- dataset
def _namespace(topic: str, leaf: str) -> str | None:
    if topic == leaf or topic == "/" + leaf:
        return ""
    return topic[: -len(leaf) - 1] if topic.endswith("/" + leaf) else None


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


@dataclass
class _Robot:
    obs: list[tuple[int, Any]] = field(default_factory=list)
    cmd: list[tuple[int, Any]] = field(default_factory=list)
    state: list[tuple[int, Any]] = field(default_factory=list)
    chunk: list[tuple[int, Any]] = field(default_factory=list)
    event: list[tuple[int, Any]] = field(default_factory=list)


def _latest_before(times: np.ndarray, t: int) -> int:
    """Index of the last entry with time < t, or -1."""
    return int(np.searchsorted(times, t, side="left")) - 1


def _map_source(state: Any | None, cmd: Any | None) -> int:
    if state is None:
        return SOURCE_PAUSED
    if bool(state.holding) or (cmd is not None and bool(cmd.hold)):
        return SOURCE_PAUSED
    return {ControlSource.POLICY: SOURCE_ROBOT, ControlSource.HUMAN: SOURCE_HUMAN}.get(int(state.source), SOURCE_PAUSED)


@dataclass
class StepLabels:
    """Per-step control labels as the bag recorded them (what ``EpisodeDataset.source`` is derived from).

    control_source: ControlState.source (0 POLICY, 1 HUMAN, 2 PAUSED, 3 RESET; -1 no state yet);
    control_reason: ControlState.reason (REASON_* of hitl_msgs/ControlState, -1 none); holding: the
    arm held (ControlState.holding or ArmCommand.hold); operator: ControlState.operator_id;
    log_time_ns: the observation's log time in the bag; namespace / bag: where the step was read."""

    control_source: np.ndarray
    control_reason: np.ndarray
    holding: np.ndarray
    operator: list[str]
    log_time_ns: np.ndarray
    namespace: list[str] = field(default_factory=list)
    bag: list[str] = field(default_factory=list)

    @staticmethod
    def concatenate(parts: list[StepLabels]) -> StepLabels:
        return StepLabels(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("control_source", "control_reason", "holding")),
                          operator=[o for p in parts for o in p.operator],
                          log_time_ns=np.concatenate([p.log_time_ns for p in parts]),
                          namespace=[x for p in parts for x in p.namespace], bag=[x for p in parts for x in p.bag])


def _robot_dataset(ns: str, r: _Robot, bag_names: list[str]) -> tuple[EpisodeDataset, StepLabels]:
    for key, name in (("obs", "observation"), ("cmd", "arm_command"), ("state", "control_state")):
        if not getattr(r, key):
            where = ", ".join(bag_names)
            raise DatasetError(f"{where}: required topic {(ns + '/' + name) if ns else name} has no messages")
    for lst in (r.obs, r.cmd, r.state, r.chunk, r.event):
        lst.sort(key=lambda x: x[0])
    # a driver may keep publishing a finished episode until the next reset: drop steps after END
    ended: dict[int, int] = {}
    for t, e in r.event:  # the first END counts (sim_arm_node repeats it once a run has finished)
        if int(e.event) == _EVENT_END:
            ended.setdefault(int(e.episode), t)
    r.obs = [(t, o) for t, o in r.obs if t <= ended.get(int(o.episode), t)]
    if not r.obs:
        raise DatasetError(f"{', '.join(bag_names)}: no {ns}/observation before the episodes' END events")
    obs_t = np.array([t for t, _ in r.obs], np.int64)
    cmd_t = np.array([t for t, _ in r.cmd], np.int64)
    st_t = np.array([t for t, _ in r.state], np.int64)
    ch_t = np.array([t for t, _ in r.chunk], np.int64)

    chunk_names = next((list(c.dim_names) for _, c in r.chunk if len(c.dim_names)), None)
    n_arms = max(1, max(len(o.ee_poses) for _, o in r.obs))
    names = _layout_names(chunk_names, n_arms, f"{ns}/action_chunk")
    layout = [parse_dim_name(n) for n in names]
    chunks_by_stamp: dict[int, Any] = {}
    positions: dict[tuple[str, ...], dict[tuple[int, str], int]] = {}
    for _, c in r.chunk:
        chunks_by_stamp.setdefault(_stamp_ns(c.observation_stamp), c)

    n = len(r.obs)
    obs_dim = max(len(o.data) for _, o in r.obs)
    obs = np.full((n, obs_dim), np.nan, np.float32)
    current = np.zeros((n, len(layout)))
    action = np.zeros((n, len(layout)))
    robot_action = np.full((n, len(layout)), np.nan)
    source = np.zeros(n, np.int8)
    operator = [""] * n
    ctrl_source = np.full(n, -1, np.int64)
    ctrl_reason = np.full(n, -1, np.int64)
    holding = np.zeros(n, bool)
    episode_no = np.zeros(n, np.int64)
    # what the arbiter applied per (episode, step): its last decision on that observation, and the
    # command it published with that decision (the same header stamp)
    state_by_step: dict[tuple[int, int], Any] = {}
    for _, st in r.state:
        state_by_step[(int(st.episode), int(st.step))] = st
    cmd_by_stamp = {_stamp_ns(c.header.stamp): c for _, c in r.cmd}
    applied: dict[int, tuple[Any, Any]] = {}  # episode -> (state, command) of its latest decided step
    join = {"by_step": 0, "carried": 0, "by_time": 0}
    for i, (t, o) in enumerate(r.obs):
        if len(o.data) != obs_dim:
            raise DatasetError(f"{ns}/observation: step {o.step} of episode {o.episode} has "
                               f"{len(o.data)} entries, others {obs_dim}")
        obs[i] = np.asarray(o.data, np.float32)
        episode_no[i] = int(o.episode)
        current[i] = _pose_vector(list(o.ee_poses), list(o.gripper), layout)
        t_next = int(obs_t[i + 1]) if i + 1 < n else np.iinfo(np.int64).max
        st = state_by_step.get((int(o.episode), int(o.step)))
        if st is not None:
            jc = _latest_before(cmd_t, t_next)
            stamp = _stamp_ns(st.header.stamp)
            cmd = cmd_by_stamp.get(stamp) if stamp else None
            cmd = cmd if cmd is not None else (r.cmd[jc][1] if jc >= 0 else None)
            applied[int(o.episode)] = (st, cmd)
            join["by_step"] += 1
        elif int(o.episode) in applied:
            st, cmd = applied[int(o.episode)]
            join["carried"] += 1
        else:
            jc, js = _latest_before(cmd_t, t_next), _latest_before(st_t, t_next)
            cmd = r.cmd[jc][1] if jc >= 0 else None
            st = r.state[js][1] if js >= 0 else None
            join["by_time"] += 1
        source[i] = _map_source(st, cmd)
        operator[i] = str(st.operator_id) if st is not None else ""
        if st is not None:
            ctrl_source[i], ctrl_reason[i] = int(st.source), int(st.reason)
        holding[i] = (st is not None and bool(st.holding)) or (cmd is not None and bool(cmd.hold))
        if cmd is None or bool(cmd.hold):
            action[i] = current[i]
        else:
            action[i] = _pose_vector(list(cmd.targets), list(cmd.gripper), layout)
            action[i] = np.where(np.isnan(action[i]), current[i], action[i])
        c = chunks_by_stamp.get(_stamp_ns(o.header.stamp))
        if c is None and len(ch_t):  # no exact stamp: the first chunk received in [t_i, t_next)
            k = int(np.searchsorted(ch_t, t, side="left"))
            c = r.chunk[k][1] if k < len(ch_t) and ch_t[k] < t_next else None
        if c is not None and int(c.action_dim) > 0 and len(c.actions) >= int(c.action_dim):
            first = np.asarray(c.actions[: int(c.action_dim)], float)
            key = tuple(c.dim_names)
            if key not in positions:
                cnames = _layout_names(list(key) or None, n_arms, f"{ns}/action_chunk")
                positions[key] = {parse_dim_name(nm): j for j, nm in enumerate(cnames)}
            pos = {d: j for d, j in positions[key].items() if j < len(first)}
            robot_action[i] = [first[pos[d]] if d in pos else np.nan for d in layout]
    current = np.where(np.isnan(current), 0.0, current)

    # episodes: runs of equal Observation.episode
    cut = np.flatnonzero(np.diff(episode_no) != 0) + 1
    ends = np.concatenate([cut, [n]]).astype(np.int64)
    ep_numbers = [int(episode_no[s]) for s in np.concatenate([[0], cut])]
    outcome = {int(e.episode): bool(e.success) for _, e in r.event if int(e.event) == _EVENT_END}
    success = np.array([outcome.get(e, False) for e in ep_numbers], bool)
    ops = sorted({op for op, s in zip(operator, source) if op and s == SOURCE_HUMAN})
    expert = np.full(len(ends), -1, np.int16)
    for k, (s0, s1) in enumerate(zip(np.concatenate([[0], ends[:-1]]), ends)):
        seen = [operator[i] for i in range(s0, s1) if source[i] == SOURCE_HUMAN and operator[i]]
        if seen:
            expert[k] = ops.index(max(set(seen), key=seen.count))
    first = r.obs[0][1]
    dts = np.diff(obs_t) / 1e9
    meta = {
        "source": "rosbag2", "bags": bag_names, "robot_namespace": ns or "/",
        "robot_id": str(first.robot_id), "task": str(first.task), "frame_id": str(first.header.frame_id),
        "obs_names": list(first.names), "action_names": list(names),
        "dt": float(np.median(dts)) if len(dts) else 0.0,
        "episodes": ep_numbers, "operator_ids": ops,
        "incomplete_episodes": [e for e in ep_numbers if e not in outcome],
        "label_join": join,
    }
    ds = EpisodeDataset(obs=obs, action=action, current=current, episode_ends=ends, source=source,
                        robot_action=robot_action, success=success, expert_id=expert, meta=meta)
    return ds, StepLabels(ctrl_source, ctrl_reason, holding, operator, obs_t, [ns] * n, [bag_names[0]] * n)


def bags_to_dataset(paths: str | Path | list[str | Path],
                    robot_namespace: str | None = None) -> EpisodeDataset:
    """Read rosbag2 MCAP bags into episodes; see :func:`bags_to_labelled_dataset`."""
    return bags_to_labelled_dataset(paths, robot_namespace)[0]


def bags_to_labelled_dataset(paths: str | Path | list[str | Path],
                             robot_namespace: str | None = None) -> tuple[EpisodeDataset, StepLabels]:
    """Read rosbag2 MCAP bags (directories or .mcap files, also killed/repaired ones) into episodes.

    ``robot_namespace`` (e.g. "/robot_0") picks one robot; None takes every robot found (a fleet
    bag gives the episodes of each robot in namespace order). Raises BagError/DatasetError naming
    the file or topic on a foreign, corrupt or incomplete bag.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise DatasetError("bags_to_dataset: no bag paths given")
    want_ns = None
    if robot_namespace is not None:
        want_ns = "/" + robot_namespace.strip("/") if robot_namespace.strip("/") else ""
    leaves = {"observation": "obs", "arm_command": "cmd", "control_state": "state", "action_chunk": "chunk",
              "episode_event": "event"}
    parts: list[EpisodeDataset] = []
    labels: list[StepLabels] = []
    for path in paths:
        decoder = MessageDecoder()
        robots: dict[str, _Robot] = {}
        scans: list[McapScan] = []
        for m in iter_bag(path, scans=scans):
            for leaf, key in leaves.items():
                ns = _namespace(m.topic, leaf)
                if ns is None or (want_ns is not None and ns != want_ns):
                    continue
                getattr(robots.setdefault(ns, _Robot()), key).append((m.log_time, decoder.decode(m)))
                break
        for s in scans:
            if s.profile and s.profile != "ros2":
                raise BagError(f"{s.path}: MCAP profile {s.profile!r} is not ros2 (not a rosbag2 recording)")
        for ns in sorted(robots):
            if robots[ns].obs:
                ds, lab = _robot_dataset(ns, robots[ns], [str(path)])
                parts.append(ds)
                labels.append(lab)
    if not parts:  # no bag had a robot's observation stream
        wanted = f"{want_ns}/observation" if want_ns else "observation"
        raise DatasetError(f"{', '.join(str(p) for p in paths)}: required topic {wanted} not found")
    ds = parts[0] if len(parts) == 1 else EpisodeDataset.concatenate(parts)
    if len(parts) > 1:
        ds.meta["bags"] = [str(p) for p in paths]
        ds.meta["robot_namespace"] = sorted({p.meta["robot_namespace"] for p in parts})
        ds.meta["robot_ids"] = [p.meta["robot_id"] for p in parts]
        ds.meta["episode_robot"] = [p.meta["robot_id"] for p in parts for _ in range(p.n_episodes)]
    return ds, (labels[0] if len(labels) == 1 else StepLabels.concatenate(labels))


def pre_intervention_mask(dataset: EpisodeDataset, window: int) -> np.ndarray:
    """(N,) bool: robot/paused steps within ``window`` steps before a human takeover (same episode)."""
    if window < 0:
        raise ValueError("window must be >= 0")
    mask = np.zeros(dataset.n_steps, bool)
    human = dataset.source == SOURCE_HUMAN
    for sl in dataset.episode_slices():
        h = human[sl]
        starts = np.flatnonzero(h & ~np.concatenate([[False], h[:-1]]))
        for s in starts:
            lo = max(0, s - window)
            mask[sl.start + lo: sl.start + s] = True
        mask[sl] &= ~h
    return mask
