"""The soak's pure logic (bench/soak.py runs the graph): the fault schedule, which faults are due,
the per-fault record, memory growth per half of the run, the summary, and a table of runs for
docs/fleet.md. Tests: test_soak_faults.py."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

FAULTS = ("kill_policy", "kill_device", "kill_recorder", "drop_operator")
OPERATOR_FAULTS = ("kill_device", "drop_operator")  # they need an operator driving a robot
HOLD_LIMIT_S = 0.2
LAST_FAULT_MARGIN_S = 30.0  # a fault still waiting for a driving operator this close to the end is given up


@dataclass
class Fault:
    at_s: float
    kind: str
    target: str = ""            # runner key of the killed node
    robot: str = ""             # the robot whose hold is expected
    state_before: str = ""      # that robot's source/reason just before the kill
    t_kill: float = 0.0
    t_restart: float | None = None
    t_ready: float | None = None  # the restarted node's first output line
    detected: bool = False       # the runner saw the process die
    hold_reason: str = ""
    hold_latency_stamp_s: float | None = None
    hold_latency_recv_s: float | None = None
    held_ok: bool | None = None  # None: no hold expected (recorder)
    reassigned_to: str = ""
    reassign_latency_s: float | None = None
    handed_on: dict | None = None  # a drop: each robot the allocator gave the dead operator -> the next one
    dead_operator_longest_assignment_s: float | None = None  # the dropped operator kept a robot this long
    dead_operator_assignments: int | None = None  # robots it was given (or kept) while dead
    recovered_s: float | None = None  # from restart to the robot back to a non-stale state
    exposed_s: float | None = None  # kill -> the first state under the dead node's control (0: already)
    hold_latency_exposed_s: float | None = None  # from max(kill, exposure) to the hold
    commands_under_dead_node: int | None = None  # states driven by it, not holding, past its timeout
    first_hold: str = ""  # the first holding control_state after the kill (any reason), its latency
    waited_s: float | None = None  # an operator fault: from due to an operator driving a robot (injected then)
    trace: list = None  # the robot's (s after kill, source, reason, holding, operator) changes, 5 s
    note: str = ""


def parse_schedule(text: str, duration: float, robots: int) -> list[Fault]:
    """'20:kill_policy,40:drop_operator' -> Faults; '' = the kinds in turn, evenly spread over all but the
    last LAST_FAULT_MARGIN_S (two per kind per minute of soak)."""
    if text:
        out = []
        for item in text.split(","):
            at, kind = item.split(":", 1)
            if kind not in FAULTS:
                raise SystemExit(f"unknown fault {kind!r}: expected one of {FAULTS}")
            out.append(Fault(float(at), kind))
        return sorted(out, key=lambda f: f.at_s)
    n = max(len(FAULTS), int(duration // 60) * len(FAULTS) // 2)
    # spread over the time an operator fault can still be injected (run m's 40th fault, due 29 s
    # before the end, was given up at once)
    span = duration - LAST_FAULT_MARGIN_S if duration > 4 * LAST_FAULT_MARGIN_S else duration
    step = span / (n + 1)
    return [Fault(round(step * (k + 1), 1), FAULTS[k % len(FAULTS)]) for k in range(n)]


def vm_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def robot_keys(commands: dict[str, list[str]]) -> list[str]:
    """The runner keys ``--robot-nice`` lowers: the robot graphs' nodes (``robot_<i>/...``) but their
    arbiters. The operator station is another computer in a deployment, and the arbiter, the node that
    holds a robot within 200 ms, would run at real-time priority on one: at a load of 80 on two cores an
    arbiter at the others' priority went a second without the CPU (soak run n's two late holds)."""
    return [k for k in commands if k.startswith("robot_") and not k.endswith("/arbiter")]


def niced(commands: dict[str, list[str]], keys: list[str], niceness: int) -> dict[str, list[str]]:
    """``commands`` with those of ``keys`` run under ``nice -n niceness`` (0: unchanged)."""
    if niceness == 0:
        return dict(commands)
    return {k: ["nice", "-n", str(niceness), *c] if k in keys else c for k, c in commands.items()}


def due_faults(queue: list[Fault], t: float) -> list[Fault]:
    """The faults to try at soak time ``t``: every one due, but of the operator faults (which may have
    to wait for an operator driving a robot) only the earliest, so two never take the same operator."""
    due = [f for f in queue if f.at_s <= t]
    ops = [f for f in due if f.kind in OPERATOR_FAULTS]
    return [f for f in due if f.kind not in OPERATOR_FAULTS or f is ops[0]]


def rss_growth(samples: list[dict], skip: set[str]) -> dict:
    """Whether memory levels off: per node that ran the whole soak (none of ``skip``), its RSS growth
    in the first and the second half of the run (kB); median and max over those nodes."""
    if len(samples) < 3:
        return {}
    first, last = samples[0], samples[-1]
    mid = min(samples, key=lambda s: abs(s["t"] - last["t"] / 2))
    halves: dict[str, list[int]] = {"first_half": [], "second_half": []}
    for node, start in first["rss_kb"].items():
        m, end = mid["rss_kb"].get(node), last["rss_kb"].get(node)
        if node in skip or None in (start, m, end):
            continue
        halves["first_half"].append(m - start)
        halves["second_half"].append(end - m)
    out: dict = {"nodes": len(halves["first_half"]), "mid_t": mid["t"]}
    for k, v in halves.items():
        if v:
            out[k] = {"median": int(statistics.median(v)), "max": max(v)}
    return out


def summarize(faults: list[Fault], bags: dict) -> dict:
    by_kind: dict[str, dict] = {}
    for f in faults:
        k = by_kind.setdefault(f.kind, {"injected": 0, "detected": 0, "held_ok": 0, "latencies_s": []})
        if not f.t_kill:
            continue
        k["injected"] += 1
        k["detected"] += int(f.detected)
        k["held_ok"] += int(bool(f.held_ok))
        if f.hold_latency_stamp_s is not None:
            k["latencies_s"].append(f.hold_latency_stamp_s)
        if f.kind == "drop_operator":
            k.setdefault("reassigned", 0)
            k["reassigned"] += int(bool(f.reassigned_to))
            k.setdefault("every_robot_handed_on", 0)  # every robot it was given went to another operator
            k["every_robot_handed_on"] += int(bool(f.handed_on) and all(f.handed_on.values()))
    return {"faults": by_kind,
            "episodes_run": sum(b["episodes_run"] for b in bags.values()),
            "episodes_in_bags": sum(b["episodes_in_bags"] for b in bags.values()),
            "lost_outside_recorder_gap": sum(len(b["missing_outside_recorder_gap"]) for b in bags.values())}


def _held(kind: dict | None) -> str:
    """'held / injected' of one fault kind ('-' when the run had none)."""
    return f"{kind['held_ok']}/{kind['injected']}" if kind and kind.get("injected") else "-"


def runs_table(paths: list[Path]) -> str:
    """A markdown table of soak runs (their JSON files), one row each: size, faults injected and
    detected, held with the right reason within the limit per kind, drops reassigned, episodes run /
    in the bags / lost outside a recorder's gap, the median node's RSS growth in the second half, each
    operator's time away (off line or silent on its robot)."""
    head = ("| run | robots x ops | s | injected | detected | policy held | device held | drops held | reassigned "
            "| episodes run / in bags / lost | RSS 2nd half (MB) | operators away (s) | robots with no episode |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for path in paths:
        run = json.loads(Path(path).read_text())
        s = run["summary"]
        faults = s["faults"]
        injected = sum(k["injected"] for k in faults.values())
        detected = sum(k["detected"] for k in faults.values())
        drops = faults.get("drop_operator") or {}
        growth = s.get("rss_growth_kb", {}).get("second_half", {}).get("median")
        idle = [r for r, b in sorted(run.get("bags", {}).items()) if not b.get("episodes_run")]
        away = " / ".join(f"{v:.0f}" for _op, v in sorted(run.get("operators_away_s", {}).items())) or "-"
        rows.append(
            f"| {Path(path).stem} | {run['robots']} x {run['operators']} | {run['duration_s']:.0f} "
            f"| {injected} | {detected} | {_held(faults.get('kill_policy'))} | {_held(faults.get('kill_device'))} "
            f"| {_held(drops)} | {drops.get('reassigned', 0)}/{drops.get('injected', 0)} "
            f"| {s['episodes_run']} / {s['episodes_in_bags']} / {s['lost_outside_recorder_gap']} "
            f"| {'-' if growth is None else f'{growth / 1024:.1f}'} | {away} | {', '.join(idle) or 'none'} |")
    return "\n".join(rows)


def handed_on(assignments: list[tuple[float, dict[str, str]]], op: str, t_kill: float,
              end: float) -> dict[str, str]:
    """Every robot the allocator had given operator ``op`` at its kill or gave it afterwards (it goes on
    assigning a silent operator until it finds it absent; in soak run m it moved the dropped operator
    to three more robots in the 2.6 s after the drop), and the operator each went to after its last
    turn with ``op``, up to ``end`` ('' none). ``assignments``: (receipt time, robot -> operator) of each
    /fleet/assignments message, in order."""
    before = [a for t, a in assignments if t < t_kill]
    window = [a for t, a in assignments if t_kill <= t <= end]
    robots = sorted({r for a in (before[-1:] + window) for r, o in a.items() if o == op})
    out: dict[str, str] = {}
    for r in robots:
        last_turn = max((k for k, a in enumerate(window) if a.get(r) == op), default=-1)
        out[r] = next((a[r] for a in window[last_turn + 1:] if a.get(r, op) != op), "")
    return out
