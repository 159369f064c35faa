"""The fleet benchmark (bench/fleet.py over hitl_bringup/fleet_bench.py) at a tiny size on push: every
method's counters obey the allocation's rules, ROHE is IIFL Eq. 3, and runs of other seeds merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
N, M, STEPS = 6, 2, 40


def bench(tmp: Path, out: str, *extra: str) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "fleet.py"), "--tasks", "push", "--robots", str(N), "--operators",
           str(M), "--steps", str(STEPS), "--train-steps", "20", "--ebm-train-steps", "10", "--no-progress",
           "--cache", str(tmp / "cache"), "--out", str(tmp / out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp / out).read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict, dict]:
    tmp = tmp_path_factory.mktemp("fleet_bench")
    methods = ["--methods", "IIFL", "IIFL-R", "IFL", "BC", "IBC"]
    return tmp, bench(tmp, "a.json", *methods, "--seed-list", "0"), bench(tmp, "b.json", *methods, "--seed-list", "1")


def test_counters_follow_the_allocation_rules(runs):
    _, a, b = runs
    for res in (a, b):
        assert res["methods"][0] == "IIFL"  # IIFL-R borrows IIFL's request rate, so IIFL runs first
        push = res["results"]["push"]
        rows = {m: r[0] for m, r in push["runs"].items()}
        for row in rows.values():
            assert 0 <= row["human_actions"] <= M * STEPS, row  # at most M robots served per tick
            # IIFL Eq. 3 with the fleet reward (1 per success) summed over robots; the run rounds to 4 decimals
            assert row["rohe"] == pytest.approx(M / N * row["successes"] / (1 + row["human_actions"]), abs=1e-4)
        for method in ("BC", "IBC"):  # no gate: the operators only reset failed robots, t_R = 5 ticks each
            assert rows[method]["threshold"] == -1.0
            assert rows[method]["human_actions"] <= 5 * rows[method]["hard_resets"], rows[method]
        # the random allocation asks for help at IIFL's rate: its threshold is 1 - that rate
        assert rows["IIFL-R"]["threshold"] == pytest.approx(1.0 - rows["IIFL"]["request_rate"], abs=1e-4)
        assert push["rohe_order"][0] == max(rows, key=lambda m: rows[m]["rohe"])


def test_seed_lists_merge_into_one_result(runs):
    tmp, a, b = runs
    assert a["seed_list"] == [0] and b["seed_list"] == [1]
    assert a["results"]["push"]["runs"]["IIFL"][0]["seed"] == 0
    assert b["results"]["push"]["runs"]["IIFL"][0]["seed"] == 1
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), "--merge-from", str(tmp / "a.json"),
                           str(tmp / "b.json"), str(tmp / "a.json"), "--out", str(tmp / "merged.json")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    merged = json.loads((tmp / "merged.json").read_text())["results"]["push"]
    assert merged["seed_list"] == [0, 1] and merged["seeds"] == 2  # a's seed 0 given twice counts once
    for method, rows in merged["runs"].items():
        assert [r["seed"] for r in rows] == [0, 1]
        want = (a["results"]["push"]["runs"][method][0]["successes"]
                + b["results"]["push"]["runs"][method][0]["successes"]) / 2
        assert merged["summary"][method]["successes"]["mean"] == pytest.approx(want)
    assert (tmp / "merged.png").exists()


def _load_bench_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fleet_bench_script", ROOT / "bench" / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _task(sizes: dict, runs: dict) -> dict:
    return {"simulator": "mujoco", "sizes": sizes, "runs": runs, "seeds": 2, "seed_list": [0, 1], "train_s": 1.0}


def test_a_rerun_of_one_method_at_its_own_size_replaces_only_its_rows():
    fleet = _load_bench_script()
    row = lambda seed, s: {"seed": seed, "successes": s}  # noqa: E731
    old = _task({"steps": 2000, "denoising_points": 16},
                {"IIFL": [row(0, 5), row(1, 6)], "diffusion": [row(0, 1), row(1, 2)]})
    rerun = _task({"steps": 2000, "denoising_points": 8}, {"diffusion": [row(0, 3)]})
    joined = fleet.join_runs(old, rerun)
    assert joined["runs"]["diffusion"] == [row(0, 3)]  # the 16-point seed 1 is not mixed in
    assert joined["runs"]["IIFL"] == old["runs"]["IIFL"]
    assert joined["method_sizes"] == {"diffusion": {"denoising_points": 8}} and joined["sizes"] == old["sizes"]
    with pytest.raises(SystemExit, match="differ"):  # a size every method reads still has to agree
        fleet.join_runs(old, _task({"steps": 1000, "denoising_points": 16}, {"diffusion": [row(0, 3)]}))
    with pytest.raises(SystemExit, match="differ"):  # and the gate's size only for a rerun of its method alone
        fleet.join_runs(old, _task({"steps": 2000, "denoising_points": 8}, {"IIFL": [row(0, 3)]}))
