"""Fleet soak: N robots x M simulated operators under faults injected on a schedule (issue 15, "Soak").

    python bench/soak.py --robots 2 --operators 2 --duration 120 --out bench/results/soak.json
    python bench/soak.py --robots 8 --operators 2 --duration 1200 \
        --schedule 60:kill_policy,120:kill_device,180:kill_recorder,240:drop_operator,...

The fleet graph is hitl_bringup.graph.build_graph(fleet_size=N, operators=M, sim=true, ...) run by
hitl_bringup.runner.GraphRunner in this process (not run_graph: a required node that exits ends a
hitl_run graph, and the soak restarts the nodes it kills). Task nav, a small ensemble policy trained
here, the `random` estimator (help requests come and go, so the allocator keeps working). This
script subscribes to every robot's control_state / episode_event and to /fleet/assignments.

Faults (each SIGKILL; `restart_s` later the node is started again, except where said):
  kill_policy    robot_<i>/policy          expect: control_state holding, reason STALE_POLICY
  kill_device    the operator serving a robot  expect: that robot holding, STALE_DEVICE (or DEADMAN)
  kill_recorder  robot_<i>/recorder        expect: the runner sees the death; bag repaired afterwards,
                                           no episode lost beyond the open chunk + the restart gap
  drop_operator  the operator serving a robot, back only after `rejoin_s`
                 expect: hold as kill_device, and the allocator gives that robot to another operator
Latencies are measured from the kill (time.time() just before os.kill) to the header stamp of the
first control_state that says so (the arbiter's publish time; the same clock) and to its receipt here.
RSS: VmRSS of /proc/<pid>/status of every node process at start, every RSS_EVERY_S and at the end;
``rss_growth_kb`` compares each node's growth in the run's two halves (levelling off: the second smaller).
CPU priority: with --robot-nice N every robot-graph process but the arbiters runs at niceness N
(restarts too) while the arbiters, the operator station (allocator, operators) and this script stay at
0, as if the station were its own computer and the arbiter ran at real-time priority, as on a robot: at
a load of ~100 on two cores the operator processes otherwise go quiet for seconds (soak
run g's heartbeat gaps), and an operator fault can only be injected while an operator drives a robot.
A device or operator fault needs an operator driving a robot: when none does at its time it waits
(up to --serve-wait-s, the rest of the soak and the later faults going on) and is injected as soon
as one does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from hitl_bringup.ros.soak_watch import Watch, reason_name, stamp_s
from hitl_bringup.soak_faults import (
    FAULTS,
    HOLD_LIMIT_S,
    LAST_FAULT_MARGIN_S,
    Fault,
    due_faults,
    handed_on,
    niced,
    parse_schedule,
    robot_keys,
    rss_growth,
    runs_table,
    summarize,
    vm_rss_kb,
)
from hitl_teleop.arbiter.config import ArbiterConfig

ALLOCATOR = "fleet_allocator"  # the runner's key of the allocator node
STALL_S = 60.0  # robots asking and nobody served this long: the allocator looks stalled
RSS_EVERY_S = 120.0  # every node's RSS is sampled this often (does memory level off?)
# a fault's target is chosen from robots whose control_state came this recently: run o dropped an operator
# by a state 11.8 s old (the VM had been paused), i.e. on a robot the operator no longer drove
FRESH_STATE_S = 0.5


def train_checkpoint(folder: Path) -> str:
    """A small ensemble policy for nav (franka), trained for a few hundred steps: the graph only has to run."""
    from hitl_bringup.tiny_policy import train_tiny_policy

    return train_tiny_policy(folder, "nav", "ensemble", n_episodes=6, steps=100, hidden=[32, 32],
                             name="nav_ensemble.pt")


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.robots = [f"robot_{i}" for i in range(args.robots)]
        self.faults = parse_schedule(args.schedule, args.duration, args.robots)
        self.pending: list[tuple[float, str, Fault]] = []  # (time, key, fault) restarts
        self.dropped: dict[str, float] = {}
        # the stall check (check_allocator): the soak clock's start, last time anyone was served, since
        # when robots have asked unserved, whether this stall was already signalled
        self.t_run = self.last_served = 0.0
        self.asking_since: float | None = None
        self.stalled = False

    def build(self, checkpoint: str, workdir: Path):
        from hitl_bringup.graph import build_graph
        from hitl_bringup.runner import GraphRunner

        a = self.args
        specs = build_graph(arm="franka", sim=True, task="nav", policy="ensemble", checkpoint=checkpoint,
                            threshold=a.threshold, record=True, estimator="random", episodes=0, variant="test",
                            bag=str(workdir / "bags"), seed=a.seed, fleet_size=a.robots, operators=a.operators,
                            min_intervention_s=a.min_intervention_s, hard_reset_s=a.hard_reset_s)
        self.specs = {s.fqn.lstrip("/"): s for s in specs}
        self.runner = GraphRunner(specs, workdir=workdir, echo=False, log_dir=workdir / "logs",
                                  env={"ROS_DOMAIN_ID": str(a.domain)})
        self.runner.prepare()
        self.runner.commands = niced(self.runner.commands, robot_keys(self.runner.commands), a.robot_nice)

    # ---- faults -------------------------------------------------------------------------------------
    def _kill(self, key: str, fault: Fault) -> None:
        proc = self.runner.procs[key]
        fault.target = key
        fault.t_kill = time.time()
        os.kill(proc.pid, signal.SIGKILL)

    def down(self) -> set[str]:
        """Nodes killed and not started again yet. A second fault must not pick one: its restart would start
        a second process under the same name (soak run j: two operator_0 processes from t = 380 s on, so
        "the dead operator" kept driving robots after later kills)."""
        return {key for _, key, _ in self.pending}

    def _serving_pair(self) -> tuple[str, str] | None:
        """(robot, operator) of a robot an operator drives right now (HUMAN), or None."""
        down = self.down()  # a dropped operator is down until it rejoins
        pairs = [(r, o) for r, o in self.watch.serving().items() if o not in down
                 and (s := self.watch.last_state(r, FRESH_STATE_S)) is not None and s.source == s.SOURCE_HUMAN
                 and not s.holding and s.operator_id == o]
        return self.rng.choice(sorted(pairs)) if pairs else None

    def inject(self, fault: Fault, waited_s: float = 0.0, last_chance: bool = True) -> bool:
        """Kill the fault's node; False (nothing done) for an operator fault while no operator drives a
        robot, unless ``last_chance`` (then it is given up with a note). ``waited_s``: since it was due."""
        cs = self.watch.CS
        if fault.kind in ("kill_policy", "kill_recorder"):
            node = fault.kind.split("_")[1]
            up = [r for r in self.robots if f"{r}/{node}" not in self.down()] or self.robots
            if fault.kind == "kill_policy":  # a robot the policy drives now (a hold is expected there)
                t_end, on_policy = time.monotonic() + 20.0, []
                while not on_policy and time.monotonic() < t_end:
                    on_policy = [r for r in up if (s := self.watch.last_state(r, FRESH_STATE_S)) is not None
                                 and s.source == cs.SOURCE_POLICY and not s.holding]
                    time.sleep(0.02)
                fault.robot = self.rng.choice(on_policy or up)
            else:
                fault.robot = self.rng.choice(up)
            s = self.watch.last_state(fault.robot)
            fault.state_before = f"source {s.source} reason {reason_name(cs, s.reason)}" if s else "no state"
            key = f"{fault.robot}/{node}"
            self._kill(key, fault)
            self.pending.append((fault.t_kill + self.args.restart_s, key, fault))
            return True
        pair = self._serving_pair()
        if pair is None:
            if last_chance:
                fault.note = f"no operator drove a robot in the {waited_s:.0f} s after it was due: not injected"
            return last_chance
        fault.robot, op = pair
        fault.waited_s = round(waited_s, 1)
        fault.state_before = f"HUMAN by {op}"
        self._kill(op, fault)
        if fault.kind == "drop_operator":
            self.dropped[op] = fault.t_kill
            self.pending.append((fault.t_kill + self.args.rejoin_s, op, fault))
        else:
            self.pending.append((fault.t_kill + self.args.restart_s, op, fault))
        return True

    def restart_due(self, now: float) -> None:
        for item in [p for p in self.pending if p[0] <= now]:
            self.pending.remove(item)
            _, key, fault = item
            fault.detected = fault.detected or self.runner.procs[key].poll() is not None
            self.dropped.pop(key, None)
            if self.runner.procs[key].poll() is None:  # running already: never two processes under one name
                fault.note += f" ({key} was running again already: not started twice)"
                continue
            self.runner.lines[key] = 0
            self.runner._start([self.specs[key]])
            fault.t_restart = time.time()
            threading.Thread(target=self._await_ready, args=(key, fault), daemon=True).start()

    def _await_ready(self, key: str, fault: Fault) -> None:
        t_end = time.monotonic() + 300
        while time.monotonic() < t_end and not self.runner.lines.get(key):
            time.sleep(0.05)
        fault.t_ready = time.time() if self.runner.lines.get(key) else None

    # ---- evaluation ---------------------------------------------------------------------------------
    def evaluate(self, fault: Fault) -> None:
        cs = self.watch.CS
        if not fault.t_kill:
            return
        if fault.kind == "kill_recorder":
            fault.held_ok = None
            return
        want = {cs.REASON_STALE_POLICY} if fault.kind == "kill_policy" else {
            cs.REASON_STALE_DEVICE, cs.REASON_DEADMAN_RELEASED}
        # until the node is started again (a restarted operator has the same id)
        end = fault.t_restart or float("inf")
        after = [(tr, m) for tr, m in self.watch.states_after(fault.robot, fault.t_kill) if stamp_s(m) < end]
        if fault.kind == "kill_policy":
            under, timeout = (lambda m: m.source == cs.SOURCE_POLICY), self.args.policy_timeout_s
        else:
            under = lambda m: m.source == cs.SOURCE_HUMAN and m.operator_id == fault.target  # noqa: E731
            timeout = self.args.device_timeout_s
        exposed = next((stamp_s(m) for _, m in after if under(m)), None)
        fault.exposed_s = None if exposed is None else round(max(0.0, exposed - fault.t_kill), 4)
        fault.commands_under_dead_node = sum(1 for _, m in after if under(m) and not m.holding
                                             and fault.t_kill + timeout + 0.02 < stamp_s(m) < end)
        hold_at = next((k for k, (_, m) in enumerate(after) if m.holding and m.reason in want and under(m)), None)
        hold = None if hold_at is None else after[hold_at]
        if hold_at is not None:  # the dead node's turn that the hold ends began where this run of its states did
            start = hold_at
            while start > 0 and under(after[start - 1][1]):
                start -= 1
            exposed = stamp_s(after[start][1])
        first = next(((tr, m) for tr, m in after if m.holding), None)
        if first is not None:
            fault.first_hold = (f"{reason_name(cs, first[1].reason)} after "
                                f"{stamp_s(first[1]) - fault.t_kill:.3f} s: {first[1].reason_text}")
        fault.trace, last = [], None
        for _, m in after:
            key = (int(m.source), reason_name(cs, m.reason), bool(m.holding), m.operator_id)
            if stamp_s(m) - fault.t_kill > 5.0:
                break
            if key != last:
                fault.trace.append((round(stamp_s(m) - fault.t_kill, 3), *key))
                last = key
        if hold is not None:
            tr, m = hold
            fault.hold_reason = f"{reason_name(cs, m.reason)}: {m.reason_text}"
            fault.hold_latency_stamp_s = round(stamp_s(m) - fault.t_kill, 4)
            fault.hold_latency_recv_s = round(tr - fault.t_kill, 4)
            fault.hold_latency_exposed_s = round(stamp_s(m) - max(fault.t_kill, exposed or fault.t_kill), 4)
            fault.held_ok = fault.hold_latency_exposed_s <= HOLD_LIMIT_S and not fault.commands_under_dead_node
        if hold is None and exposed is not None and not fault.commands_under_dead_node:
            fault.held_ok = True  # left the dead node's control before its timeout: nothing to hold
            fault.note += " the robot left the dead node's control before the timeout"
        elif hold is None and exposed is None:
            fault.held_ok = True
            fault.note += " the robot never came under the dead node's control"
        elif hold is None:
            other = sorted({reason_name(cs, m.reason) for _, m in after[:50] if m.holding})
            fault.note += f" no hold with {[reason_name(cs, w) for w in want]} (holds seen: {other})"
            fault.held_ok = False
        if fault.t_restart is not None:
            back = next((tr for tr, m in self.watch.states_after(fault.robot, fault.t_restart)
                         if not (m.holding and m.reason in want)), None)
            fault.recovered_s = None if back is None else round(back - fault.t_restart, 3)
        if fault.kind == "drop_operator":
            op = fault.target
            end = fault.t_restart or time.time()
            for tr, msg in self.watch.assignments_after(fault.t_kill):
                if tr > end:
                    break
                mine = {a.robot_id: a.operator_id for a in msg.assignments if a.assigned}
                if fault.robot in mine and mine[fault.robot] != op and not fault.reassigned_to:
                    fault.reassigned_to = mine[fault.robot]
                    fault.reassign_latency_s = round(tr - fault.t_kill, 3)
            served = [(tr, {a.robot_id: a.operator_id for a in m.assignments if a.assigned})
                      for tr, m in self.watch.assignments_after(fault.t_kill - 10.0)]
            fault.handed_on = handed_on(served, op, fault.t_kill, end)
            # how long the dead operator kept a robot at a stretch (the allocator finds it silent after
            # operator_timeout_s, then retries it every operator_retry_s)
            spans, since = [], None
            for tr, msg in self.watch.assignments_after(fault.t_kill):
                if tr > end:
                    break
                has = any(a.assigned and a.operator_id == op for a in msg.assignments)
                if has and since is None:
                    since = tr
                elif not has and since is not None:
                    spans.append(tr - since)
                    since = None
            if since is not None:
                spans.append(end - since)
            fault.dead_operator_longest_assignment_s = round(max(spans), 3) if spans else 0.0
            fault.dead_operator_assignments = len(spans)

    def bag_episodes(self, workdir: Path) -> dict:
        from hitl_bringup.bag.repair import file_is_whole, repair_bag
        from hitl_core.bag_reader import bag_files, read_messages

        out = {}
        rec_faults = [f for f in self.faults if f.kind == "kill_recorder" and f.t_kill]
        for r in self.robots:
            dirs = sorted(p for p in (workdir / "bags").glob(f"{r}_*") if p.is_dir())
            repaired = 0
            in_bag: set[int] = set()
            for d in dirs:
                if not all(file_is_whole(p) for p in bag_files(d)):
                    repair_bag(d)
                    repaired += 1
                for _, msg, _ in read_messages(d, {f"/{r}/episode_event"}):
                    if msg.event == self.watch.EE.EVENT_END and msg.note != "finished":
                        in_bag.add(int(msg.episode))
            ran = self.watch.ends[r]
            missing = sorted(set(ran) - in_bag)
            windows = [(f.t_kill - 1.0, (f.t_ready or f.t_restart or f.t_kill) + self.args.discovery_s)
                       for f in rec_faults if f.robot == r]
            unexplained = [e for e in missing if not any(a <= ran[e] <= b for a, b in windows)]
            out[r] = {"bag_dirs": [d.name for d in dirs], "repaired_dirs": repaired,
                      "episodes_run": len(ran), "episodes_in_bags": len(in_bag & set(ran)),
                      "missing": missing, "missing_outside_recorder_gap": unexplained,
                      # how far outside: the episode's end minus the nearest window's edge (s)
                      "outside_by_s": {e: round(min(min(abs(ran[e] - a), abs(ran[e] - b)) for a, b in windows), 2)
                                       if windows else None for e in unexplained}}
        return out

    def check_allocator(self, now: float, stalls: list[dict]) -> None:
        """Robots asking for help for STALL_S and nobody served meanwhile: the allocator looks stalled
        (robots that just started asking after a quiet spell are not a stall). It is sent
        SIGUSR1 once per stall (every node prints its stacks on it, hitl_core/ros/runtime.py), so its log
        says where it waits; the stall is recorded with the allocator's liveness at that moment."""
        if self.watch.serving():
            self.last_served, self.asking_since, self.stalled = now, None, False
            return
        asking = [r for r in self.robots if (s := self.watch.last_state(r)) is not None and s.help_requested]
        if not asking:
            self.asking_since = None
            return
        if self.asking_since is None:
            self.asking_since = now
        if self.stalled or now - self.asking_since < STALL_S:  # asking, unserved, for STALL_S
            return
        self.stalled = True
        proc = self.runner.procs.get(ALLOCATOR)
        alive = proc is not None and proc.poll() is None
        if alive:
            os.kill(proc.pid, signal.SIGUSR1)
        stalls.append({"t": round(now - self.t_run, 1), "asking": asking, "allocator_running": alive,
                       "stacks_in": "logs/fleet_allocator.log" if alive else None,
                       **self.watch.allocator_alive(now), **self.watch.fleet_view()})
        print(f"[soak] allocator stalled? nobody served for {now - self.last_served:.0f} s while {asking} ask "
              f"for help: {stalls[-1]}", flush=True)

    # ---- main loop ----------------------------------------------------------------------------------
    def rss(self) -> dict[str, int | None]:
        return {k: vm_rss_kb(p.pid) for k, p in self.runner.procs.items() if p.poll() is None}

    def run(self, workdir: Path, checkpoint: str) -> dict:
        a = self.args
        self.build(checkpoint, workdir)
        self.watch = Watch(a.domain, self.robots)
        t0 = time.time()
        queue = list(self.faults)
        unexpected_deaths: dict[str, int] = {}
        last_print = 0.0
        timeline: list[dict] = []
        stalls: list[dict] = []
        aborted = None
        try:
            self.runner.start()
            started = time.time()
            # the soak clock starts once every robot has published a control_state
            while time.time() - started < a.startup_timeout and not all(self.watch.last_state(r)
                                                                        for r in self.robots):
                time.sleep(0.2)
            up = {r: self.watch.last_state(r) is not None for r in self.robots}
            startup_s = time.time() - t0
            print(f"[soak] graph up in {startup_s:.1f} s: {up}", flush=True)
            time.sleep(a.warmup_s)
            rss_start = self.rss()
            t_run = last_rss = time.time()
            rss_samples: list[dict] = [{"t": 0.0, "rss_kb": rss_start}]
            self.t_run = self.last_served = t_run
            while time.time() - t_run < a.duration:
                now = time.time()
                for f in due_faults(queue, now - t_run):
                    # an operator fault waits (the loop and later faults go on) until an operator drives
                    waited = now - t_run - f.at_s
                    if self.inject(f, waited, last_chance=waited >= a.serve_wait_s
                                   or now - t_run >= a.duration - LAST_FAULT_MARGIN_S):
                        queue.remove(f)
                        print(f"[soak] t={now - t_run:6.1f} s {f.kind} {f.target} (robot {f.robot}) {f.note}",
                              flush=True)
                self.restart_due(time.time())
                killed = {f.target for f in self.faults if f.t_kill}
                for key, rc in self.runner.dead().items():
                    if key not in killed and key not in unexpected_deaths:
                        unexpected_deaths[key] = rc
                        print(f"[soak] t={now - t_run:6.1f} s {key} exited on its own (rc {rc}): logs/{key}.log",
                              flush=True)
                    for f in self.faults:
                        if f.target == key and f.t_kill and not f.detected:
                            f.detected = True
                if ALLOCATOR in unexpected_deaths:  # nobody is served from here on: nothing left to measure
                    aborted = f"{ALLOCATOR} exited on its own at t = {now - t_run:.1f} s"
                    print(f"[soak] aborted: {aborted}", flush=True)
                    break
                self.check_allocator(now, stalls)
                if now - last_rss >= RSS_EVERY_S:
                    last_rss = now
                    rss_samples.append({"t": round(now - t_run, 1), "rss_kb": self.rss()})
                if now - last_print > 30:
                    last_print = now
                    alive = self.watch.allocator_alive(now)
                    timeline.append({"t": round(now - t_run, 1), "serving": self.watch.serving(), **alive})
                    print(f"[soak] t={now - t_run:6.1f} s episodes "
                          f"{ {r: len(e) for r, e in self.watch.ends.items()} } serving {self.watch.serving()} "
                          f"allocator {alive}", flush=True)
                time.sleep(0.05)
            time.sleep(2.0)
            rss_end = self.rss()
            t_stop = time.time()
            rss_samples.append({"t": round(t_stop - t_run, 1), "rss_kb": rss_end})
        finally:
            codes = self.runner.stop()
            time.sleep(0.5)
            self.watch.close()
        for f in self.faults:
            self.evaluate(f)
        bags = self.bag_episodes(workdir)
        restarted = {f.target for f in self.faults if f.t_restart}
        killed = {f.target for f in self.faults if f.t_kill}  # every restarted node among them
        return {
            "command": " ".join(sys.argv),
            "robots": a.robots, "operators": a.operators, "duration_s": a.duration,
            "wall_s": round(t_stop - t_run, 1), "startup_s": round(startup_s, 1), "graph_up": up,
            "robot_nice": a.robot_nice, "restart_s": a.restart_s, "rejoin_s": a.rejoin_s, "hold_limit_s": HOLD_LIMIT_S,
            "load_average": os.getloadavg(),
            "faults": [asdict(f) | {"t_kill": round(f.t_kill - t_run, 3) if f.t_kill else None,
                                    "t_restart": round(f.t_restart - t_run, 3) if f.t_restart else None,
                                    "t_ready": round(f.t_ready - t_run, 3) if f.t_ready else None}
                       for f in self.faults],
            "bags": bags,
            "unexpected_deaths": unexpected_deaths,
            "exit_codes": codes,
            "rss_kb": {k: {"start": rss_start.get(k), "end": rss_end.get(k), "restarted": k in restarted,
                           "killed": k in killed}
                       for k in sorted(set(rss_start) | set(rss_end))},
            "rss_samples": rss_samples,
            "summary": summarize(self.faults, bags) | {"rss_growth_kb": rss_growth(rss_samples, killed)},
            "timeline": timeline,
            "allocator_stalls": stalls,
            "aborted": aborted,
            "operators_away_s": {op: round(v, 1) for op, v in sorted(self.watch.away_s.items())},
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--robots", type=int, default=2)
    p.add_argument("--operators", type=int, default=2)
    p.add_argument("--duration", type=float, default=120.0, help="seconds of soak after start-up")
    p.add_argument("--schedule", default="", help="at_s:fault,... (faults: " + ", ".join(FAULTS) + ")")
    p.add_argument("--restart-s", type=float, default=5.0, help="a killed node is started again after this")
    p.add_argument("--rejoin-s", type=float, default=20.0, help="a dropped operator comes back after this")
    p.add_argument("--serve-wait-s", type=float, default=120.0,
                   help="an operator fault waits this long after it is due for an operator driving a robot")
    p.add_argument("--threshold", type=float, default=0.7, help="help threshold on the random score")
    p.add_argument("--min-intervention-s", type=float, default=1.0)
    p.add_argument("--hard-reset-s", type=float, default=2.0)
    defaults = ArbiterConfig()  # the arbiters run with their defaults: these only judge the commands seen
    p.add_argument("--policy-timeout-s", type=float, default=defaults.policy_timeout_s,
                   help="the arbiter's policy_timeout_s")
    p.add_argument("--device-timeout-s", type=float, default=defaults.device_timeout_s,
                   help="the arbiter's device_timeout_s")
    p.add_argument("--robot-nice", type=int, default=0,
                   help="niceness of the robot graphs' processes but the arbiters (they and the operator "
                        "station stay at 0)")
    p.add_argument("--warmup-s", type=float, default=5.0)
    p.add_argument("--startup-timeout", type=float, default=300.0)
    p.add_argument("--discovery-s", type=float, default=3.0, help="after a recorder's restart, until it records")
    p.add_argument("--domain", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="", help="a nav policy checkpoint ('' = train a small one)")
    p.add_argument("--workdir", default="", help="bags, logs, parameters ('' = a temporary folder)")
    p.add_argument("--out", default="bench/results/soak.json")
    p.add_argument("--table", nargs="+", metavar="JSON",
                   help="print a markdown table of these soak runs' results and exit (runs nothing)")
    a = p.parse_args(argv)
    if a.table:
        print(runs_table([Path(f) for f in a.table]))
        return 0
    if a.domain is None:  # a domain no test process holds, with its DDS ports below the ephemeral range
        from hitl_core.ros.testing import lease_domain

        a.domain = lease_domain().domain  # held until this process ends
    workdir = Path(a.workdir or tempfile.mkdtemp(prefix="soak_")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = a.checkpoint or train_checkpoint(workdir / "ckpt")
    result = Soak(a).run(workdir, checkpoint)
    result["workdir"] = str(workdir)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result["summary"], indent=1))
    print(f"[soak] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
