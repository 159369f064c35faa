"""How long does a ROS node's teardown take when a whole graph stops at once? (docs/fleet.md, "Stopping a fleet")

Stopping a fleet of 8 robots x 2 operators (43 processes) with one SIGINT each left one or two nodes
per soak run exiting 1 through the shutdown watchdog (hitl_core/ros/runtime.py, SHUTDOWN_LIMIT_S): their
work was done (a recorder's bag closed) but `destroy_node` outlasted the limit. This measures that
without the fleet: N processes, each one rclpy node with E publishers and E subscriptions on shared
topics (every process matches every other), SIGINTed together; each reports how long its
`destroy_node` and its context shutdown took. The project's DDS set-up (hitl_core/ros/dds.py).

    python bench/teardown.py --sizes 10 43 --entities 6 --out bench/results/teardown.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from hitl_core.ros.dds import project_dds_env
from hitl_core.ros.runtime import SHUTDOWN_LIMIT_S


def node_main(index: int, entities: int) -> int:
    """One process of the crowd: publish on every topic at 10 Hz until SIGINT, then time the teardown."""
    import rclpy
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node(f"teardown_{index}")
    pubs = [node.create_publisher(String, f"/teardown/t{k}", 10) for k in range(entities)]
    for k in range(entities):
        node.create_subscription(String, f"/teardown/t{k}", lambda m: None, 10)
    node.create_timer(0.1, lambda: [p.publish(String(data="x" * 64)) for p in pubs])
    asked: list[float] = []
    signal.signal(signal.SIGINT, lambda *_: asked.append(time.monotonic()))
    print("ready", flush=True)
    while not asked:
        rclpy.spin_once(node, timeout_sec=0.05)
    t0 = time.monotonic()
    node.destroy_node()
    t1 = time.monotonic()
    rclpy.try_shutdown()
    t2 = time.monotonic()
    print(json.dumps({"wake_s": t0 - asked[0], "destroy_s": t1 - t0, "shutdown_s": t2 - t1}), flush=True)
    return 0


def trial(size: int, entities: int, settle_s: float, domain: int) -> dict:
    env = project_dds_env(dict(os.environ, ROS_DOMAIN_ID=str(domain)))
    cmd = [sys.executable, __file__, "--role-node", "--entities", str(entities)]
    procs = [subprocess.Popen([*cmd, "--index", str(i)], stdout=subprocess.PIPE, text=True, env=env)
             for i in range(size)]
    try:
        for p in procs:
            p.stdout.readline()
        time.sleep(settle_s)  # discovery: every process matches every other (not a condition to await here)
        t = time.monotonic()
        for p in procs:
            p.send_signal(signal.SIGINT)
        outs = [p.communicate(timeout=120)[0] for p in procs]
        all_s = time.monotonic() - t
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    rows = [json.loads(line) for o in outs for line in o.splitlines() if line.startswith("{")]
    destroy = sorted(r["destroy_s"] + r["shutdown_s"] for r in rows)
    return {"processes": size, "entities": entities, "reported": len(rows), "all_stopped_s": round(all_s, 2),
            "teardown_median_s": round(statistics.median(destroy), 3), "teardown_max_s": round(destroy[-1], 3),
            f"over_{SHUTDOWN_LIMIT_S:g}_s": sum(d > SHUTDOWN_LIMIT_S for d in destroy)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 43])
    ap.add_argument("--entities", type=int, default=6)
    ap.add_argument("--settle-s", type=float, default=15.0)
    ap.add_argument("--domain", type=int, default=87)
    ap.add_argument("--out", default=None)
    ap.add_argument("--role-node", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.role_node:
        return node_main(a.index, a.entities)
    trials = [trial(n, a.entities, a.settle_s, a.domain) for n in a.sizes]
    result = {"command": " ".join(["python", "bench/teardown.py", *(argv or sys.argv[1:])]), "trials": trials,
              "load_average": os.getloadavg()}
    if len(trials) >= 2:
        result["median_ratio_largest_to_smallest"] = round(
            trials[-1]["teardown_median_s"] / max(trials[0]["teardown_median_s"], 1e-6), 1)
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
