"""One source for the gating parameters: config/tasks/<task>.yaml plus overrides -> the arbiter's configuration.

Everything that gates a robot takes its help threshold, release rule, minimum intervention time and
gating mode from :func:`load_gating`: the deploy graph (``graph.build_graph``: the arbiter node's
parameters), the in-process loop (``sim_loop.GateConfig.for_task``), the evaluation
(``hitl_bringup.eval``), the demo and the fine-tuning rounds (``rounds.py``). Precedence: the
``ArbiterConfig`` dataclass defaults < the task YAML (top-level ``threshold``, ``nodes.arbiter``,
``nodes.uncertainty.every_n``) < overrides. "Unset" is one rule everywhere
(``hitl_core.threshold``): a negative threshold (``UNSET`` = -1) or None; 0 is a
legal threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitl_core.threshold import UNSET, is_unset, read_threshold_file

from hitl_bringup.graph_config import available, config_dir, load_yaml

# ArbiterConfig fields that decide when help is asked for and when control returns
ARBITER_KEYS = ("release_ratio", "release_ticks", "min_intervention_s", "rearm_ratio", "gating")
GATING_KEYS = ("threshold", *ARBITER_KEYS)


class GatingError(ValueError):
    """Bad gating configuration (one-line message)."""


def arbiter_defaults() -> dict[str, Any]:
    """The ArbiterConfig dataclass defaults of the gating keys (the defaults' one home)."""
    from hitl_teleop.arbiter import ArbiterConfig

    fields = {f.name: f.default for f in dataclasses.fields(ArbiterConfig)}
    return {k: fields[k] for k in ARBITER_KEYS}


@dataclass(frozen=True)
class Gating:
    """threshold None: unset (the arbiter then uses each Uncertainty message's threshold, or the
    ``threshold_file`` a node reads at start). score_every: the monitor scores every n-th observation."""

    threshold: float | None
    release_ratio: float
    release_ticks: int
    min_intervention_s: float
    rearm_ratio: float
    gating: str
    score_every: int = 1
    threshold_file: str = ""
    task: str = ""

    def arbiter_kwargs(self) -> dict[str, Any]:
        """The ArbiterConfig keyword arguments these settings decide."""
        return {"threshold": self.threshold, **{k: getattr(self, k) for k in ARBITER_KEYS}}

    def arbiter_config(self, **extra: Any):
        """An ArbiterConfig with these gating settings (``extra``: robot_id, timeouts, rate, ...)."""
        from hitl_teleop.arbiter import ArbiterConfig

        return ArbiterConfig(**self.arbiter_kwargs(), **extra)

    def node_parameters(self) -> dict[str, Any]:
        """The arbiter node's ROS parameters (threshold UNSET when unset; the node reads threshold_file)."""
        return {"threshold": UNSET if self.threshold is None else float(self.threshold),
                "threshold_file": self.threshold_file,
                **{k: getattr(self, k) for k in ARBITER_KEYS}}


def task_file(task: str) -> Path:
    return config_dir() / "tasks" / f"{task}.yaml"


def load_task_yaml(task: str) -> dict:
    path = task_file(task)
    if not path.exists():
        raise GatingError(f"unknown task {task!r}: no {path.name}; expected one of {available('tasks')}")
    return load_yaml(path)


def _typed(key: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            raise TypeError
        if isinstance(default, int):
            out = int(value)
            if out != float(value):
                raise ValueError
            return out
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise GatingError(f"gating parameter {key}={value!r} is not a {type(default).__name__}") from None


def load_gating(task: str | Mapping, overrides: Mapping[str, Any] | None = None,
                threshold: float | None = None, threshold_file: str = "", resolve_file: bool = True,
                missing_ok: bool = False) -> Gating:
    """The gating settings of ``task`` (a task name, or its parsed YAML) with ``overrides``.

    overrides: any of ``GATING_KEYS`` and ``score_every``; a threshold override that is unset (None or
    negative) keeps the YAML's. threshold / threshold_file: the deploy arguments (``threshold:=``,
    ``threshold_file:=``): a set threshold wins, else the file, else the YAML's ``threshold``.
    resolve_file: read the file now (in-process users) or leave it to the nodes (the graph).
    missing_ok: a task without a YAML gets the ArbiterConfig defaults (evaluation-only tasks).
    """
    if isinstance(task, Mapping):
        cfg = dict(task)
    elif missing_ok and not task_file(task).exists():
        cfg = {"task": task}
    else:
        cfg = load_task_yaml(task)
    name = str(cfg.get("task", "" if isinstance(task, Mapping) else task))
    values: dict[str, Any] = arbiter_defaults()
    yaml_arbiter = dict((cfg.get("nodes") or {}).get("arbiter") or {})
    values.update({k: v for k, v in yaml_arbiter.items() if k in ARBITER_KEYS})
    every = ((cfg.get("nodes") or {}).get("uncertainty") or {}).get("every_n", 1)
    over = dict(overrides or {})
    unknown = sorted(set(over) - {*GATING_KEYS, "score_every"})
    if unknown:
        raise GatingError(f"unknown gating override(s) {unknown}; expected {[*GATING_KEYS, 'score_every']}")
    defaults = arbiter_defaults()
    for k in ARBITER_KEYS:
        if k in over:
            values[k] = over[k]
        values[k] = _typed(k, values[k], defaults[k])
    score_every = _typed("score_every", over.get("score_every", every), 1)
    if score_every < 1:
        raise GatingError(f"score_every must be >= 1, got {score_every}")
    if "threshold" in over and not is_unset(over["threshold"]):
        threshold = over["threshold"]
    thr: float | None = None
    file = ""
    if not is_unset(threshold):
        thr = float(threshold)
    elif threshold_file:
        file = str(threshold_file)
        thr = read_threshold_file(file) if resolve_file else None
    elif not is_unset(cfg.get("threshold")):
        thr = float(cfg["threshold"])
    gating = Gating(threshold=thr, score_every=score_every, threshold_file=file, task=name, **values)
    gating.arbiter_config()  # ArbiterConfig validates ranges (release_ratio, gating mode, ...)
    return gating
