"""The fleet deploy graph: N robot graphs under /robot_<i>/, M operators and the allocator.

``build_graph(fleet_size=N, operators=M, ...)`` (graph.py) comes here when N > 0, so deploy.launch.py
and the runner (hitl_run) take the same arguments:

    hitl_run deploy fleet_size:=8 operators:=2 arm:=franka task:=push checkpoint:=... threshold:=0.5
    fleet_arms:=franka,widowx,...  fleet_tasks:=push,nav,...   (one per robot, or one for all)

Robot i is the one-robot graph of build_graph with namespace robot_<i>, robot_id robot_<i>, seed
seed + i and its own bag folder (<bag>/robot_<i>), without a teleop device of its own. Operator j
is a simulated operator node ``/operator_<j>`` with ``fleet:=true`` (it drives whichever robot
/fleet/assignments gives it) and style j mod 2 (heterogeneous operators); with
``operator_device:=keyboard|spacemouse|joy|trakstar`` it is that real device's node(s) in namespace
``/operator_<j>`` plus a ``teleop_router`` there (hitl_teleop/teleop_router.py), which forwards the
device's samples to the robot the allocator assigned operator_<j> to. One ``fleet_allocator``
serves them all; it publishes /fleet/assignments and /fleet/status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitl_bringup.graph_config import DEVICES, GraphError, NodeSpec, coerce, default_arguments

DEVICE_NODES = ("sim_operator", "keyboard", "spacemouse", "joy", "joy_teleop", "trakstar")
REAL_DEVICES = ("keyboard", "spacemouse", "joy", "trakstar")
FLEET_ARGS = ("fleet_size", "operators", "fleet_arms", "fleet_tasks", "operator_device", "min_intervention_s",
              "hard_reset_s")


def _per_robot(text: str, default: str, n: int, what: str) -> list[str]:
    items = [x.strip() for x in str(text or "").split(",") if x.strip()]
    if not items:
        return [default] * n
    if len(items) == 1:
        return items * n
    if len(items) != n:
        raise GraphError(f"{what}: {len(items)} values for fleet_size:={n} (give one, or one per robot)")
    return items


def build_fleet_graph(given: dict[str, Any], build_robot: Callable[..., list[NodeSpec]]) -> list[NodeSpec]:
    """NodeSpecs of the fleet for the (untyped) launch/runner arguments ``given``; ``build_robot`` is
    graph.build_graph (passed in, so that this module does not import graph.py, which imports it)."""
    defaults = default_arguments()
    n = coerce("fleet_size", given.get("fleet_size", 0), 0)
    m = coerce("operators", given.get("operators", 1), 1)
    if n < 1 or m < 1:
        raise GraphError(f"fleet_size:={n} and operators:={m} must both be >= 1")
    device = str(given.get("operator_device", "") or "sim_operator")
    if device not in (*REAL_DEVICES, "sim_operator"):
        raise GraphError(f"operator_device:={device!r}: expected sim_operator or a real device "
                         f"({' | '.join(REAL_DEVICES)}); the browser console serves a fleet by itself "
                         "(docs/console.md)")
    arms = _per_robot(given.get("fleet_arms", ""), str(given.get("arm", defaults["arm"])), n, "fleet_arms")
    tasks = _per_robot(given.get("fleet_tasks", ""), str(given.get("task", defaults["task"])), n, "fleet_tasks")
    if len(set(tasks)) > 1:
        raise GraphError(f"fleet_tasks {sorted(set(tasks))}: simulated operators serve one task; give one task")
    seed = coerce("seed", given.get("seed", defaults["seed"]), 0)
    bag = str(given.get("bag", defaults["bag"]))
    robot_args = {k: v for k, v in given.items() if k not in FLEET_ARGS}
    specs: list[NodeSpec] = []
    robots = []
    for i in range(n):
        rid = f"robot_{i}"
        robots.append(rid)
        one = build_robot(**{**robot_args, "arm": arms[i], "task": tasks[i], "namespace": rid, "robot_id": rid,
                             "seed": seed + i, "bag": f"{bag}/{rid}", "teleop_device": "sim_operator"})
        specs += [s for s in one if s.name not in DEVICE_NODES and s.name not in DEVICES]
    ops = [f"operator_{j}" for j in range(m)]
    for j, op in enumerate(ops):
        if device != "sim_operator":  # the device in /operator_j, and its router to the assigned robot
            one = build_robot(**{**robot_args, "arm": arms[0], "task": tasks[0], "namespace": op, "robot_id": op,
                                 "operator_id": op, "teleop_device": device, "record": False, "console": False})
            specs += [s for s in one if s.name in DEVICE_NODES]
            specs.append(NodeSpec(package="hitl_teleop", executable="teleop_router_node",
                                  module="hitl_teleop.nodes.teleop_router_node", name="teleop_router",
                                  namespace=f"/{op}", parameters={"operator_id": op}))
            continue
        specs.append(NodeSpec(package="hitl_teleop", executable="sim_operator_node",
                              module="hitl_teleop.nodes.sim_operator_node", name=op, namespace="",
                              parameters={"arm": arms[0], "task": tasks[0], "operator_id": op, "fleet": True,
                                          "style": j % 2, "seed": seed + 1000 + j}))
    specs.append(NodeSpec(package="hitl_teleop", executable="fleet_allocator_node",
                          module="hitl_teleop.nodes.fleet_allocator_node", name="fleet_allocator", namespace="",
                          parameters={"robot_ids": robots, "operator_ids": ops,
                                      "min_intervention_s": float(given.get("min_intervention_s", 1.0)),
                                      "hard_reset_s": float(given.get("hard_reset_s", 2.0)),
                                      # an operator silent on its robot this long is taken off it (died)
                                      "operator_timeout_s": 2.0,
                                      # robots go only to operators whose device node is heard (started)
                                      "operator_heartbeat_s": 3.0}))
    return specs
