"""The one description of the deploy graph: which nodes, with which parameters and remappings.

``build_graph`` reads config/deploy.yaml (the nodes and their parameter templates),
config/arms/<arm>.yaml and config/tasks/<task>.yaml, and returns :class:`NodeSpec` s. The launch files
(deploy.launch.py, record.launch.py) turn them into launch_ros Nodes; the runner (hitl_run) turns
them into ``python -m <module> --ros-args ...`` processes. Neither adds anything of its own.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from hitl_bringup.graph_config import (
    _TEMPLATE,
    DEVICES,
    PATH_ARGS,
    POLICY_KINDS,
    RECORD_ARGUMENTS,
    REQUIRED_NODES,
    GraphError,
    NodeSpec,
    argument_descriptions,
    available,
    coerce,
    config_dir,
    default_arguments,
    load_yaml,
    record_arguments,
)

# graph_config's names that launch files, the runner and tests import from here
__all__ = [
    "DEVICES", "POLICY_KINDS", "REQUIRED_NODES", "GraphError", "NodeSpec", "argument_descriptions", "available",
    "build_graph", "build_record_graph", "coerce", "config_dir", "default_arguments", "record_arguments",
]


def typed_override(key: str, value: Any, current: Any) -> Any:
    """A ``<node>.<param>`` value from launch/CLI (a string) in the type of the parameter it replaces
    (else as YAML reads it: 5 -> int, 0.5 -> float, true -> bool, [1, 2] -> list)."""
    if not isinstance(value, str):
        return value
    if current is not None and not isinstance(current, (list, dict)):
        return coerce(key, value, current)
    try:
        parsed = yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        return value
    if current is not None and not isinstance(parsed, type(current)):
        raise GraphError(f"override {key}:={value!r} is not a {type(current).__name__}")
    return parsed if isinstance(parsed, (bool, int, float, str, list)) else value


def resolve_arguments(given: dict[str, Any]) -> dict[str, Any]:
    """Defaults + given values, typed and validated; derived values filled in."""
    defaults = default_arguments()
    unknown = sorted(k for k in given if k not in defaults and "." not in k)
    if unknown:
        raise GraphError(f"unknown argument(s) {unknown}: expected {sorted(defaults)} or <node>.<param>")
    args = {k: coerce(k, given.get(k, v), v) for k, v in defaults.items()}
    if args["arm"] not in available("arms"):
        raise GraphError(f"unknown arm {args['arm']!r}: expected one of {available('arms')}")
    if args["task"] not in available("tasks"):
        raise GraphError(f"unknown task {args['task']!r}: expected one of {available('tasks')}")
    if args["policy"] not in POLICY_KINDS:
        raise GraphError(f"unknown policy {args['policy']!r}: expected one of {list(POLICY_KINDS)}")
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", args["device"]):
        hint = f"; the teleop device is teleop_device:={args['device']}" if args["device"] in DEVICES else ""
        raise GraphError(f"device:={args['device']!r} is the torch device (cpu | cuda[:N] | mps){hint}")
    ns = args["namespace"].strip().strip("/")
    if ns and not re.fullmatch(r"[A-Za-z_][\w/]*", ns):
        raise GraphError(f"invalid namespace {args['namespace']!r}")
    args["namespace"] = f"/{ns}" if ns else ""
    args["robot_id"] = args["robot_id"] or (ns.replace("/", "_") if ns else "robot_0")
    for key in PATH_ARGS:
        if args[key]:
            args[key] = os.path.abspath(os.path.expanduser(args[key]))
    return args


def _substitute(value: Any, args: dict[str, Any]) -> Any:
    if isinstance(value, str) and (m := _TEMPLATE.match(value)):
        if m.group(1) not in args:
            raise GraphError(f"deploy.yaml refers to unknown argument ${{{m.group(1)}}}")
        return args[m.group(1)]
    if isinstance(value, dict):
        return {k: _substitute(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, args) for v in value]
    return value


def _selected(when: str, args: dict[str, Any], device: str) -> bool:
    if when in ("", "always"):
        return True
    if when == "sim":
        return bool(args["sim"])
    if when == "real":
        return not args["sim"]
    if when == "record":
        return bool(args["record"])
    if when.startswith("device:"):
        return when.split(":", 1)[1] == device
    if when == "console":  # the browser console: console:=true, or the only device (teleop_device:=console)
        return bool(args["console"]) or device == "console"
    raise GraphError(f"deploy.yaml: unknown condition when: {when!r}")


def build_graph(arm: str = "franka", sim: Any = True, task: str = "lift", policy: str = "diffusion",
                checkpoint: str = "", device: str = "cpu", threshold: Any = -1.0, record: Any = True,
                namespace: str = "", **overrides: Any) -> list[NodeSpec]:
    """The deploy graph's nodes for these arguments (strings from launch/CLI are accepted).

    overrides: further arguments of deploy.yaml (teleop_device, variant, episodes, seed, bag,
    robot_id, operator_id, estimator, threshold_file) and ``<node>.<param>`` values that replace a
    node's parameter (e.g. ``{"arbiter.release_ticks": 5}``).
    """
    given = dict(arm=arm, sim=sim, task=task, policy=policy, checkpoint=checkpoint, device=device,
                 threshold=threshold, record=record, namespace=namespace, **overrides)
    if coerce("fleet_size", overrides.get("fleet_size", 0), 0) > 0:  # N robots + M operators: fleet_graph.py
        from hitl_bringup.fleet_graph import build_fleet_graph  # fleet_graph never imports this module

        return build_fleet_graph(given, build_robot=build_graph)
    args = resolve_arguments({k: v for k, v in given.items() if "." not in k})
    node_overrides = {k: v for k, v in given.items() if "." in k}
    cfg = config_dir()
    deploy = load_yaml(cfg / "deploy.yaml")
    arm_cfg = load_yaml(cfg / "arms" / f"{args['arm']}.yaml")
    task_cfg = load_yaml(cfg / "tasks" / f"{args['task']}.yaml")

    teleop = args["teleop_device"] or (
        "sim_operator" if args["sim"] else arm_cfg.get("default_device", "keyboard"))
    if teleop not in DEVICES:
        raise GraphError(f"unknown teleop_device {teleop!r}: expected one of {list(DEVICES)}")
    if not args["checkpoint"]:
        raise GraphError("checkpoint:=<file> is required (a diffusion or EBM policy checkpoint)")
    estimator = args["estimator"] or task_cfg.get("estimator", {}).get(args["policy"], "")
    if not estimator:
        raise GraphError(f"task {args['task']!r} names no estimator for policy {args['policy']!r}")
    args["estimator"] = estimator
    from hitl_bringup.gating import GATING_KEYS, UNSET, GatingError, load_gating

    gating_overrides = {k.split(".", 1)[1]: node_overrides.pop(k) for k in list(node_overrides)
                        if k.startswith("arbiter.") and k.split(".", 1)[1] in GATING_KEYS}
    try:  # the one source of the arbiter's gating (hitl_bringup/gating.py); files are read by the nodes
        gating = load_gating({"task": args["task"], **task_cfg}, gating_overrides, threshold=args["threshold"],
                             threshold_file=args["threshold_file"], resolve_file=False)
    except (GatingError, ValueError) as exc:
        raise GraphError(str(exc)) from None
    if gating.threshold is None and not gating.threshold_file:
        raise GraphError("no threshold: pass threshold:=<score> or threshold_file:=<calibration file>")
    args["threshold"] = UNSET if gating.threshold is None else gating.threshold
    est_params = (task_cfg.get("estimator_params") or {}).get(estimator) or {}
    est_params_text = yaml.safe_dump(est_params, default_flow_style=True, sort_keys=True).strip()

    specs: list[NodeSpec] = []
    known = set()
    for entry in deploy.get("nodes", []):
        name = entry["name"]
        known.add(name)
        if not _selected(str(entry.get("when", "always")), args, teleop):
            continue
        params = _substitute(dict(entry.get("parameters") or {}), args)
        params.update((arm_cfg.get("nodes") or {}).get(name) or {})
        if not args["sim"]:  # the real arm's frames (the simulator's are the identity)
            params.update((arm_cfg.get("real_nodes") or {}).get(name) or {})
        params.update((task_cfg.get("nodes") or {}).get(name) or {})
        if name == "uncertainty":
            params["estimator_params"] = est_params_text
            params["every_n"] = gating.score_every
        if name == "arbiter":
            params.update(gating.node_parameters())
            if not args["sim"]:  # a policy's yaw means what it meant in the layout the bridge builds
                bridge = {**((arm_cfg.get("nodes") or {}).get("observation_bridge") or {}),
                          **((task_cfg.get("nodes") or {}).get("observation_bridge") or {})}
                params["ee_layout"] = str(bridge.get("simulator", "mujoco"))
        remaps = [tuple(r) for r in entry.get("remappings") or []]
        remaps += [tuple(r) for r in (arm_cfg.get("remappings") or {}).get(name) or []]
        specs.append(NodeSpec(package=entry["package"], executable=entry["executable"],
                              module=entry.get("module") or "", name=name, namespace=args["namespace"],
                              parameters=params, remappings=remaps))
    for key, value in node_overrides.items():
        node, param = key.split(".", 1)
        if node not in known:
            raise GraphError(f"override {key!r}: no node named {node!r} in deploy.yaml")
        for spec in specs:
            if spec.name == node:
                spec.parameters[param] = typed_override(key, value, spec.parameters.get(param))
    for spec in specs:
        for key, value in spec.parameters.items():
            if value is None or (isinstance(value, list) and not value):
                raise GraphError(f"node {spec.name}: parameter {key!r} has no value (ROS needs one)")
    return specs


def build_record_graph(**given: Any) -> list[NodeSpec]:
    """The record-only graph: the recorder of the deploy graph, for a graph started elsewhere.
    Takes only RECORD_ARGUMENTS and ``recorder.<param>`` overrides."""
    unknown = sorted(k for k in given if k not in RECORD_ARGUMENTS and not k.startswith("recorder."))
    if unknown:
        raise GraphError(f"unknown argument(s) {unknown} for the record graph: expected "
                         f"{sorted(RECORD_ARGUMENTS)} or recorder.<param>")
    given = {**given, "record": True}
    if not given.get("checkpoint"):
        given["checkpoint"] = "unused-by-recorder"  # only the policy nodes need one
    return [s for s in build_graph(**given) if s.name == "recorder"]
