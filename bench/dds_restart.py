"""Does a ROS process SIGKILLed and started again hear the graph? (docs/fleet.md, "Session 11")

Soak run n: an operator restarted after a SIGKILL sent heartbeats the allocator heard but never
received one of the allocator's messages in 17 minutes. This reproduces the pattern without the fleet:
a crowd of idle ROS processes (a fleet's participants), a talker publishing ``probe`` at 10 Hz and
counting the listener's ``probe_back``, and a listener started, SIGKILLed and started again ``--restarts``
times. Per restart (of the listeners that start within ``--hear-timeout-s``): did the listener hear the
talker within that time after it started (its reader matched the talker's writer), and did the talker hear it (the other
way; one of the two without the other is the soak's one-way failure)? Two DDS set-ups:

  rmw-localhost  ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST + hitl_core/ros/fastdds_localhost.xml (the
                 project's default until session 12): rmw_fastrtps adds Fast DDS's shared-memory transport
  udp-only       ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT + hitl_core/ros/fastdds_loopback_udp.xml
                 (the project's default now, hitl_core/ros/dds.py): UDP on loopback only, no shared
                 memory (nothing of a killed process stays in /dev/shm)

    python bench/dds_restart.py --setups rmw-localhost udp-only --crowd 40 --restarts 30 \
        --load 6 --out bench/results/dds_restart.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from hitl_core.ros.dds import DEFAULT_RANGE, LOCALHOST_PROFILE, LOOPBACK_PROFILE, PROFILE_VAR, RANGE_VAR
from hitl_core.ros.testing import poll
from tqdm import tqdm

SETUPS = {
    "rmw-localhost": {RANGE_VAR: "LOCALHOST", PROFILE_VAR: str(LOCALHOST_PROFILE)},
    "udp-only": {RANGE_VAR: DEFAULT_RANGE, PROFILE_VAR: str(LOOPBACK_PROFILE)},
}


def role_main(role: str, name: str) -> int:
    """A child process: ``crowd`` (a node with a reader and a writer, idle), ``talker`` or ``listener``."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node(name)
    if role == "crowd":
        node.create_subscription(String, "crowd", lambda _m: None, 10)
        pub = node.create_publisher(String, "crowd", 10)
        node.create_timer(1.0, lambda: pub.publish(String(data=name)))
    elif role == "talker":
        pub = node.create_publisher(String, "probe", 10)
        node.create_timer(0.1, lambda: pub.publish(String(data="probe")))

        def heard_back(msg: String) -> None:
            print(f"BACK {msg.data} {time.time():.3f}", flush=True)

        node.create_subscription(String, "probe_back", heard_back, 10)
    else:
        back = node.create_publisher(String, "probe_back", 10)
        node.create_timer(0.1, lambda: back.publish(String(data=name)))
        heard = []

        def on_probe(_msg: String) -> None:
            if not heard:
                heard.append(time.time())
                print(f"HEARD {heard[0]:.3f}", flush=True)

        node.create_subscription(String, "probe", on_probe, 10)
    print("READY", flush=True)
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):  # SIGKILL is the usual end
        rclpy.spin(node)
    return 0


def collect(proc: subprocess.Popen, lines: list[tuple[float, str]]) -> None:
    """Each output line of ``proc`` with the time it was read, as it comes."""
    for line in proc.stdout:
        lines.append((time.time(), line.strip()))


def busy_loop() -> None:
    while True:
        pass


class Trial:
    """One set-up: the crowd, the talker and the load started; the listener restarted ``restarts`` times."""

    def __init__(self, setup: str, domain: int, a: argparse.Namespace) -> None:
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED="1", **SETUPS[setup])
        self.a = a
        self.procs: list[subprocess.Popen] = []

    def spawn(self, role: str, name: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, __file__, "--role", role, "--name", name], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        return proc

    def run(self) -> dict:
        try:
            return self.measure()
        finally:  # never leave the crowd or the busy loops behind
            for proc in self.procs:
                proc.kill()
            for proc in self.procs:
                proc.wait()

    def measure(self) -> dict:
        a = self.a
        for k in range(a.crowd):
            self.spawn("crowd", f"crowd_{k}")
        talker = self.spawn("talker", "talker")
        back_lines: list[tuple[float, str]] = []

        def read_talker() -> None:
            for line in talker.stdout:
                if line.startswith("BACK"):
                    _b, who, t = line.split()
                    back_lines.append((float(t), who))

        threading.Thread(target=read_talker, daemon=True).start()
        for _ in range(a.load):
            self.procs.append(subprocess.Popen([sys.executable, __file__, "--role", "busy"]))
        time.sleep(a.settle_s)  # the crowd discovers itself (start-up, not what is measured)
        rows = []
        for k in tqdm(range(a.restarts), desc="restarts", disable=not sys.stderr.isatty()):
            t0 = time.time()
            listener = self.spawn("listener", f"listener_{k}")
            lines: list[tuple[float, str]] = []
            threading.Thread(target=collect, args=(listener, lines), daemon=True).start()
            name = f"listener_{k}"
            # started (READY) within the timeout, then heard both ways within the timeout after that
            if poll(lambda: any(ln == "READY" for _t, ln in list(lines)), a.hear_timeout_s, 0.05):  # noqa: B023
                poll(lambda: any(ln.startswith("HEARD") for _t, ln in list(lines))  # noqa: B023
                     and any(who == name for _t, who in list(back_lines)), a.hear_timeout_s, 0.05)  # noqa: B023
            ready = next((t for t, ln in list(lines) if ln == "READY"), None)
            heard = next((float(ln.split()[1]) for _t, ln in list(lines) if ln.startswith("HEARD")), None)
            back = next((t for t, who in list(back_lines) if who == name), None)
            rows.append({"ready_s": None if ready is None else round(ready - t0, 2),
                         "heard_s": None if heard is None else round(heard - (ready or t0), 2),
                         "heard_back_s": None if back is None else round(back - (ready or t0), 2)})
            listener.send_signal(signal.SIGKILL)  # the soak's fault, then at once the next start
            listener.wait()
        started = [r for r in rows if r["ready_s"] is not None]  # a listener that never got going is no test
        heard = [r["heard_s"] for r in started if r["heard_s"] is not None]
        one_way = sum((r["heard_s"] is None) != (r["heard_back_s"] is None) for r in started)
        return {"restarts": len(rows), "listener_started": len(started), "listener_heard": len(heard),
                "talker_heard_listener": sum(r["heard_back_s"] is not None for r in started),
                "one_way_failures": one_way,
                "heard_s_median": round(statistics.median(heard), 2) if heard else None,
                "heard_s_max": max(heard) if heard else None, "rows": rows}


def shm_files() -> int:
    return sum(1 for f in os.listdir("/dev/shm") if "fastdds" in f) if os.path.isdir("/dev/shm") else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--role", choices=("crowd", "talker", "listener", "busy"), help=argparse.SUPPRESS)
    p.add_argument("--name", default="", help=argparse.SUPPRESS)
    p.add_argument("--setups", nargs="+", choices=sorted(SETUPS), default=sorted(SETUPS))
    p.add_argument("--crowd", type=int, default=40, help="idle ROS processes beside the talker and listener")
    p.add_argument("--restarts", type=int, default=30)
    p.add_argument("--hear-timeout-s", type=float, default=20.0)
    p.add_argument("--settle-s", type=float, default=40.0, help="for the crowd to start and discover itself")
    p.add_argument("--load", type=int, default=0, help="busy-loop processes (CPU contention, as in a soak)")
    p.add_argument("--out", default="bench/results/dds_restart.json")
    a = p.parse_args(argv)
    if a.role == "busy":
        busy_loop()
    if a.role:
        return role_main(a.role, a.name)
    from hitl_core.ros.testing import lease_domain

    lease = lease_domain()  # held until this process ends
    out: dict = {"command": " ".join(sys.argv), "crowd": a.crowd, "load": a.load, "cpu_count": os.cpu_count(),
                 "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "setups": {}}
    for setup in a.setups:
        before = shm_files()
        t = time.perf_counter()
        result = Trial(setup, lease.domain, a).run()
        result["wall_s"] = round(time.perf_counter() - t, 1)
        result["shm_files_left"] = shm_files() - before
        out["setups"][setup] = result
        print(f"[dds-restart] {setup}: {result['listener_started']} of {result['restarts']} listeners started "
              f"within {a.hear_timeout_s:.0f} s; of those {result['listener_heard']} heard the talker and the "
              f"talker heard {result['talker_heard_listener']}; "
              f"one-way {result['one_way_failures']}; median {result['heard_s_median']} s, max "
              f"{result['heard_s_max']} s; shared-memory files left {result['shm_files_left']}", flush=True)
    path = Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"[dds-restart] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
