"""Recorder benchmark: sustained write rate and what a SIGKILL at 100 Hz loses.

    .venv/bin/python bench/recorder.py [--seconds 3] [--out bench/results/recorder.json]

write_msgs_per_s: BagWriter.write of serialized Observation messages (~300 B, the hot path of
recorder_node: bytes in, no re-serialization) with the recorder's defaults (64 KiB chunks, flush +
fsync every 0.5 s), single thread. kill_*: a child process writes ControlState at 100 Hz and is
SIGKILLed after --seconds (+ k * 0.137 s for trial k); the bag is read back with the tolerant
scan (what `hitl_bag repair` keeps); lost = written - recovered (messages, bytes, seconds of
data). Compared writers: ours (defaults) and rosbags' rosbag2 MCAP writer (1 MiB chunks, no flush).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = [str(ROOT / "src" / p) for p in ("hitl_bringup", "hitl_policy", "hitl_core")]
sys.path[:0] = SRC

from hitl_bringup.bag import BagWriter, WriterOptions  # noqa: E402
from hitl_core.bag_reader import iter_bag  # noqa: E402

CHILD_OURS = """
from hitl_bringup.bag import BagWriter
w = BagWriter(BAG)
w.add_topic("/cs", "hitl_msgs/msg/ControlState")
def put(data, t):
    w.write("/cs", data, t)
"""
CHILD_ROSBAGS = """
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from hitl_bringup.bag.msgdefs import find_msg_file
ts = get_typestore(Stores.ROS2_KILTED)
T = "hitl_msgs/msg/ControlState"
ts.register(get_types_from_msg(find_msg_file(T).read_text(), T))
w = Writer(BAG, version=9, storage_plugin=StoragePlugin.MCAP)
w.open()
conn = w.add_connection("/cs", "hitl_msgs/msg/ControlState", typestore=ts)
def put(data, t):
    w.write(conn, t, data)
"""
CHILD_LOOP = """
import sys, time
from mcap_ros2._dynamic import serialize_dynamic
from hitl_bringup.bag.msgdefs import full_definition
enc = serialize_dynamic("hitl_msgs/msg/ControlState", full_definition("hitl_msgs/msg/ControlState"))[
    "hitl_msgs/msg/ControlState"]
i = 0
while True:
    data = enc({"step": i, "source": i % 3, "reason_text": "benchmark message " * 4, "robot_id": "robot_0"})
    put(data, time.time_ns())
    sys.stdout.write(f"{i} {len(data)}\\n")
    sys.stdout.flush()
    i += 1
    time.sleep(0.01)
"""


def kill_loss(kind: str, seconds: float, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    bag = workdir / f"kill_{kind}"
    setup = CHILD_OURS if kind == "ours" else CHILD_ROSBAGS
    code = f"BAG = {str(bag)!r}\n" + textwrap.dedent(setup) + textwrap.dedent(CHILD_LOOP)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*SRC, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    first = proc.stdout.readline()        # the first message is written: start the clock
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    lines = [first, *rest.splitlines()]
    written = len([x for x in lines if x.strip()])
    size = int(first.split()[1])
    recovered = sum(1 for _ in iter_bag(bag))
    lost = written - recovered
    hz = written / seconds
    return {"written": written, "recovered": recovered, "lost_messages": lost, "lost_bytes": lost * size,
            "lost_seconds": round(lost / hz, 3), "message_bytes": size}


def kill_trials(kind: str, seconds: float, trials: int, workdir: Path) -> dict:
    """Kills at staggered times (the loss depends on where in the flush period the kill lands)."""
    runs = [kill_loss(kind, seconds + 0.137 * k, workdir / f"t{k}") for k in range(trials)]
    lost = [r["lost_messages"] for r in runs]
    return {"trials": len(runs), "mean_lost_messages": sum(lost) / len(lost), "max_lost_messages": max(lost),
            "mean_lost_bytes": sum(r["lost_bytes"] for r in runs) / len(runs),
            "max_lost_seconds": max(r["lost_seconds"] for r in runs),
            "recovered_fraction": sum(r["recovered"] for r in runs) / sum(r["written"] for r in runs),
            "runs": runs}


def write_rate(n: int, workdir: Path) -> tuple[float, int]:
    from hitl_bringup.bag.msgdefs import full_definition
    from mcap_ros2._dynamic import serialize_dynamic

    t = "hitl_msgs/msg/Observation"
    enc = serialize_dynamic(t, full_definition(t))[t]
    data = enc({"robot_id": "robot_0", "task": "lift", "names": [f"o{i}" for i in range(12)],
                "data": [0.1] * 12, "ee_poses": [{}], "gripper": [0.0]})
    with BagWriter(workdir / "rate", WriterOptions()) as w:
        w.add_topic("/robot_0/observation", t)
        t0 = time.perf_counter()
        for i in range(n):
            w.write("/robot_0/observation", data, i)
        dt = time.perf_counter() - t0
    return n / dt, len(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recorder.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rate, size = write_rate(args.messages, work)
        opts = WriterOptions()
        result = {
            "write_msgs_per_s": round(rate),
            "write_message_bytes": size,
            "settings": {"chunk_size": opts.chunk_size, "flush_period_s": opts.flush_period_s,
                         "fsync": opts.fsync},
            "kill_at_100hz_after_s": args.seconds,
            "kill_ours": kill_trials("ours", args.seconds, args.trials, work / "ours"),
            "kill_rosbags_mcap": kill_trials("rosbags", args.seconds, args.trials, work / "rosbags"),
            "machine": platform.platform(), "python": platform.python_version(),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
