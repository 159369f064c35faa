"""Human take-over latency: device message -> first HUMAN control_state, measured from outside.

An arbiter_node subprocess (franka profile, 10 Hz ticks) and, in this process, an rclpy client that
plays arm driver + policy + uncertainty at 10 Hz and the operator's device: it publishes a
TeleopCommand with take_over+engaged (as a device node does) and times the receipt of the first
ControlState with source HUMAN; then releases, waits for the policy, waits a random 0-100 ms (so the
press falls anywhere in the control period) and repeats.

    source scripts/env.sh && python bench/takeover.py --n 60     # -> bench/results/takeover.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

HOME = [0.45, 0.0, 0.40]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="take-overs to measure (>= 50 for the README)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "takeover.json"))
    ns = ap.parse_args(argv)

    from hitl_core.ros.testing import lease_domain

    lease = lease_domain()  # a domain no test process holds, with its ports below the ephemeral range
    domain = lease.domain
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    import rclpy
    from geometry_msgs.msg import Pose
    from rclpy.executors import SingleThreadedExecutor

    from hitl_msgs.msg import ActionChunk, ControlState, Observation, TeleopCommand, Uncertainty

    namespace = f"/takeover_{os.getpid()}"
    arbiter = subprocess.Popen([sys.executable, "-m", "hitl_teleop.nodes.arbiter_node", "--ros-args",
                                "-r", f"__ns:={namespace}", "-p", "arm:=franka", "-p", "threshold:=1.0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    node = rclpy.create_node("takeover_client", namespace=namespace)
    pub_obs = node.create_publisher(Observation, "observation", 10)
    pub_chunk = node.create_publisher(ActionChunk, "action_chunk", 10)
    pub_unc = node.create_publisher(Uncertainty, "uncertainty", 10)
    pub_teleop = node.create_publisher(TeleopCommand, "teleop", 10)
    lock = threading.Lock()
    states: list[tuple[float, int, bool]] = []  # (receipt time, source, holding)
    teleop: dict[str, TeleopCommand | None] = {"msg": None}

    def on_state(m: ControlState) -> None:
        with lock:
            states.append((time.perf_counter(), int(m.source), bool(m.holding)))

    node.create_subscription(ControlState, "control_state", on_state, 100)

    def on_timer() -> None:
        stamp = node.get_clock().now().to_msg()
        obs = Observation()
        obs.header.stamp, obs.header.frame_id = stamp, "fr3_link0"
        obs.episode, obs.step = 1, 0
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = HOME
        pose.orientation.w = 1.0
        obs.ee_poses, obs.gripper = [pose], [0.0]
        pub_obs.publish(obs)
        chunk = ActionChunk()
        chunk.header.stamp, chunk.observation_stamp = stamp, stamp
        chunk.horizon, chunk.n_execute, chunk.action_dim, chunk.dt = 4, 2, 4, 0.1
        chunk.dim_names = ["x", "y", "z", "gripper"]
        chunk.actions = [*HOME, 0.0] * 4
        pub_chunk.publish(chunk)
        unc = Uncertainty()
        unc.header.stamp, unc.score, unc.threshold = stamp, 0.1, 1.0
        pub_unc.publish(unc)
        if teleop["msg"] is not None:  # a device streams its state
            teleop["msg"].header.stamp = stamp
            pub_teleop.publish(teleop["msg"])

    node.create_timer(0.1, on_timer)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    thread = threading.Thread(target=ex.spin, daemon=True)
    thread.start()

    def device(take_over: bool) -> float:
        msg = TeleopCommand()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.device, msg.operator_id, msg.mode = "bench", "op", TeleopCommand.MODE_ABSOLUTE
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = HOME
        msg.pose.orientation.w = 1.0
        msg.engaged = msg.take_over = take_over
        teleop["msg"] = msg
        sent = time.perf_counter()
        pub_teleop.publish(msg)
        return sent

    def wait(pred, after: float, timeout: float) -> float | None:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            with lock:
                hit = next((t for t, src, hold in states if t >= after and pred(src, hold)), None)
            if hit is not None:
                return hit
            time.sleep(0.0005)
        return None

    policy = lambda src, hold: src == ControlState.SOURCE_POLICY and not hold  # noqa: E731
    human = lambda src, hold: src == ControlState.SOURCE_HUMAN  # noqa: E731
    latencies: list[float] = []
    try:
        if wait(policy, 0.0, 120) is None:
            raise SystemExit("the arbiter never drove under the policy")
        for _ in tqdm(range(ns.n), desc="take-overs"):
            time.sleep(random.uniform(0.0, 0.1))
            sent = device(True)
            got = wait(human, sent, 5.0)
            if got is None:
                raise SystemExit("no HUMAN control_state within 5 s of a take-over")
            latencies.append(got - sent)
            time.sleep(0.3)
            released = device(False)
            if wait(policy, released, 10.0) is None:
                raise SystemExit("control did not return to the policy")
    finally:
        ex.shutdown()
        thread.join(timeout=5)
        node.destroy_node()
        rclpy.shutdown()
        arbiter.send_signal(2)
        arbiter.wait(timeout=15)
    ms = np.array(latencies) * 1e3
    result = {"what": "device TeleopCommand (take_over+engaged) -> first ControlState HUMAN, outside client",
              "n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
              "p90_ms": round(float(np.percentile(ms, 90)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
              "max_ms": round(float(ms.max()), 2), "rate_hz": 10.0, "command": "python bench/takeover.py --n "
              f"{ns.n}", "load": os.getloadavg()[0]}
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
