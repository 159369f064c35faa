"""Evaluation harness: summaries, orderings, plots, CLIs; a micro end-to-end run (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hitl_bringup.rounds import cap_human_samples
from hitl_bringup.rounds import main as rounds_main
from hitl_core.data import SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT, EpisodeDataset

from hitl_bringup import eval as ev


def ds(sources, ep_len=5):
    n = len(sources)
    x = np.arange(n, dtype=np.float32)[:, None]
    return EpisodeDataset(obs=x, action=x, current=x, episode_ends=np.arange(ep_len, n + 1, ep_len),
                          source=np.array(sources))


def test_first_steps_truncates_the_last_episode():
    d = ds([0] * 15)
    f = ev.first_steps(d, 7)
    assert f.n_steps == 7 and list(f.episode_ends) == [5, 7] and f.n_episodes == 2
    assert ev.first_steps(d, 100) is d


def test_cap_human_samples_keeps_the_first_n():
    d = ds([SOURCE_HUMAN, SOURCE_ROBOT, SOURCE_HUMAN, SOURCE_HUMAN, SOURCE_ROBOT])
    c = cap_human_samples(d, 2)
    assert list(c.source) == [SOURCE_HUMAN, SOURCE_ROBOT, SOURCE_HUMAN, SOURCE_PAUSED, SOURCE_ROBOT]
    assert cap_human_samples(d, 0) is d


T1_STEPS = {"denoising_vector_paper": 12, "denoising_vector": 10, "ensemble_variance": 30, "random": 40,
            "jeffreys": 35}


def fake_rows():
    rows = {"T1": [], "T2": [], "T3": [], "T4": [], "T5": [], "AUROC": []}
    for seed in range(3):
        for gate, steps in T1_STEPS.items():
            rows["T1"].append({"task": "lift-test", "gate": gate, "seed": seed, "human_steps": steps + seed,
                               "episode_length": 80.0, "assisted_success": 0.9, "help_requests": 2.0,
                               "autonomous_success": 0.2})
            rows["AUROC"].append({"task": "lift-test", "gate": gate, "seed": seed, "auroc_chunk": 1 - steps / 50,
                                  "auroc_episode": 0.5, "positives": 10, "negatives": 50, "autonomous_success": 0.2})
        rows["T2"].append({"budget": 80, "seed": seed, "human_steps": 80, "base_success": 0.1,
                           "uncertainty_success": 0.3, "full_demos_success": 0.4})
        for m, s in (("iwr", 0.8), ("iwr-nb", 0.7), ("hg-dagger", 0.75)):
            for r in range(4):
                rows["T3"].append({"method": m, "round": r, "seed": seed, "success": s * r / 3,
                                   "human_samples_total": 100 * r})
        rows["T3"].append({"method": "full-demos", "round": 3, "seed": seed, "success": 0.7,
                           "human_samples_total": 300})
        for m in ev.T4_METHODS:
            rows["T4"].append({"task": "lift", "method": m, "seed": seed, "success": 0.5,
                               "weak_success": 0.1, "intervention_ratio": 0.3})
        for r, (steps, succ) in {0.01: (50, 0.2), 0.03: (30, 0.3), 0.05: (20, 0.4), 0.1: (25, 0.5)}.items():
            rows["T5"].append({"radius": r, "seed": seed, "human_steps": steps + seed, "assisted_success": 0.9,
                               "success": succ})
    return rows


@pytest.mark.slow  # plots: ~25 s on the busy 2-core machine
def test_summary_and_orderings_report_what_was_measured(tmp_path):
    cfg = ev.EvalConfig.make(quick=True)
    s = ev.summarize(fake_rows(), cfg)
    t1 = {r["gate"]: r["human_steps"] for r in s["T1"]}
    assert t1["denoising_vector"]["mean"] == pytest.approx(11.0) and t1["denoising_vector"]["n"] == 3
    assert t1["denoising_vector"]["std"] == pytest.approx(1.0)
    verdicts = {c["claim"]: c["verdict"] for c in s["orderings"]}
    assert verdicts["T1 lift-test at equal assisted success 0.90: denoising_vector needs fewer human steps "
                    "than random"] == "holds"
    assert verdicts["T2 budget 80: uncertainty-selected steps beat full demos"] == "reversed"
    assert verdicts["T3 threading round 3: IWR beats hg-dagger"] == "holds"
    assert verdicts["T4 lift: MILE beats iwr"] == "tie"
    assert verdicts["T5 r=0.05 vs r=0.01: fewer human steps"] == "holds"
    assert verdicts["T5 r=0.05 vs r=0.1: higher success after fine-tuning"] == "reversed"
    result = {"summary": s, "config": {**ev.asdict(cfg), "seeds": [0, 1, 2]}, "mode": "quick",
              "command": "python -m hitl_bringup.eval --quick", "seconds_total": 1.0,
              "machine": {"cpus": 2, "jobs": 2}}
    md = ev.markdown_report(result)
    assert "| lift-test | denoising_vector | 11.0 ± 1.0 |" in md and "**reversed**" in md
    files = ev.plot(s, tmp_path)
    assert set(files) == {"t1_human_effort.png", "t1_equal_success.png", "t2_targeted_data.png", "t3_iwr.png",
                          "t4_mile.png", "t5_radius.png", "auroc.png"}
    assert all((tmp_path / f).stat().st_size > 1000 for f in files)


def test_equal_means_summed_in_another_order_are_a_tie_not_an_ordering():
    """Success 0.1/0.1/0.4 against 0.4/0.1/0.1 (one value set, another order): the float means differ in
    the last bit (0.20000000000000004 vs 0.19999999999999998); the verdict is "tie", as the report's 3
    decimals show."""
    cfg = ev.EvalConfig.make(quick=True)
    rows = {"T5": []}
    per_radius = {0.01: (0.4, 0.1, 0.1), 0.03: (0.1, 0.4, 0.1), 0.05: (0.1, 0.1, 0.4), 0.1: (0.3, 0.3, 0.3)}
    for r, successes in per_radius.items():
        for seed, succ in enumerate(successes):
            rows["T5"].append({"radius": r, "seed": seed, "human_steps": 20.0, "assisted_success": 0.9,
                               "success": succ})
    verdicts = {c["claim"]: c["verdict"] for c in ev.summarize(rows, cfg)["orderings"]}
    assert verdicts["T5 r=0.05 vs r=0.01: higher success after fine-tuning"] == "tie"
    assert verdicts["T5 r=0.05 vs r=0.03: higher success after fine-tuning"] == "tie"
    assert verdicts["T5 r=0.05 vs r=0.1: higher success after fine-tuning"] == "reversed"
    assert verdicts["T5 r=0.05 vs r=0.01: fewer human steps"] == "tie"


def test_effort_at_mixes_operating_points():
    pts = [(0.1, 0.0), (0.5, 10.0), (1.0, 14.0)]  # never ask (autonomous 0.1), two flag rates
    assert ev.effort_at(pts, 1.0) == pytest.approx(14.0)
    assert ev.effort_at(pts, 0.7) == pytest.approx(14.0 * 0.6 / 0.9)  # never ask / best point, mixed
    assert ev.effort_at(pts, 0.5) == pytest.approx(14.0 * 0.4 / 0.9)  # cheaper than the 0.5 point itself
    assert ev.effort_at(pts, 0.05) == 0.0
    assert ev.effort_at(pts, 1.01) is None


def test_equal_success_compares_every_gate_at_the_level_all_reach(tmp_path):
    """The common level is 0.8 (random peaks there). dv has a point at 0.8 (21 steps on the mean curve);
    ens reaches 0.8 cheapest by mixing its 0.6 and 0.9 points (13 + 18 * 2/3 = 25)."""
    cfg = ev.EvalConfig.make(quick=True)
    curves = {"denoising_vector": [(0.05, 0.5, 10), (0.15, 0.8, 20), (0.3, 0.9, 25)],
              "ensemble_variance": [(0.05, 0.6, 12), (0.15, 0.9, 30), (0.3, 0.9, 40)],
              "random": [(0.05, 0.3, 15), (0.15, 0.8, 35), (0.3, 0.7, 50)]}
    rows = [{"task": "lift-test", "gate": g, "seed": seed, "flag_rate": rate, "assisted_success": succ,
             "human_steps": steps + seed, "episode_length": 60.0, "help_requests": 1.0, "autonomous_success": 0.0}
            for g, pts in curves.items() for rate, succ, steps in pts for seed in range(3)]
    s = ev.summarize({"T1": rows}, cfg)
    eq = {r["gate"]: r for r in s["T1_equal"]}
    assert [r["success_level"] for r in eq.values()] == [pytest.approx(0.8)] * 3
    assert eq["denoising_vector"]["human_steps"]["mean"] == pytest.approx(21.0)
    assert eq["denoising_vector"]["human_steps"]["std"] == pytest.approx(1.0)  # per seed: 20, 21, 22
    assert eq["ensemble_variance"]["human_steps"]["mean"] == pytest.approx(25.0)
    assert eq["random"]["human_steps"]["mean"] == pytest.approx(36.0)
    assert eq["ensemble_variance"]["max_success"] == pytest.approx(0.9) and len(eq["random"]["curve"]) == 3
    # the main T1 table keeps the target rate's rows only
    assert {r["gate"]: r["human_steps"]["mean"] for r in s["T1"]}["random"] == pytest.approx(36.0)
    verdicts = {c["claim"]: c["verdict"] for c in s["orderings"]}
    assert verdicts["T1 lift-test at equal assisted success 0.80: denoising_vector needs fewer human "
                    "steps than ensemble_variance"] == "holds"
    # a gate that never does better than never asking: nothing to compare, said so
    never = [dict(r, assisted_success=0.0) if r["gate"] == "random" else r for r in rows]
    verdicts = {c["claim"]: c["verdict"] for c in ev.summarize({"T1": never}, cfg)["orderings"]}
    assert verdicts["T1 lift-test at equal assisted success 0.00: denoising_vector needs fewer human "
                    "steps than random"] == "incomparable"
    md = ev.markdown_report({"summary": s, "config": {**ev.asdict(cfg), "seeds": [0, 1, 2]}, "mode": "quick",
                             "command": "c", "seconds_total": 1.0, "machine": {"cpus": 2, "jobs": 1}})
    assert ("| lift-test | 0.80 | denoising_vector | 21.0 ± 1.0 | 20 / 80 | 0.90 | 0.05 (0.50, 11.0), "
            "0.15 (0.80, 21.0), 0.30 (0.90, 26.0) |") in md
    assert "t1_equal_success.png" in ev.plot(s, tmp_path)


@pytest.mark.slow  # plots: ~25 s on the busy 2-core machine
def test_summarize_recomputes_a_saved_run(tmp_path, capsys):
    cfg = ev.EvalConfig.make(quick=True)
    saved = {"mode": "full", "command": "python -m hitl_bringup.eval", "rows": fake_rows(), "config": ev.asdict(cfg),
             "summary": {}, "seconds_total": 5.0, "machine": {"cpus": 2, "jobs": 2}, "errors": []}
    src = tmp_path / "run" / "outcomes.json"
    src.parent.mkdir()
    src.write_text(json.dumps(saved))
    assert ev.main(["--summarize", str(src), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "outcomes.json").read_text())
    assert again["rows"] == saved["rows"] and {r["gate"] for r in again["summary"]["T1_equal"]} == set(ev.T1_GATES)
    assert "T1 at equal assisted success" in (tmp_path / "again" / "results.md").read_text()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SystemExit, match=r"bad\.json: not an outcomes file"):
        ev.main(["--summarize", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x")])


def test_summarize_merges_runs_and_drops_errors_another_run_fixed(tmp_path):
    cfg = ev.asdict(ev.EvalConfig.make(quick=True))
    rows = fake_rows()
    first = {"rows": {**rows, "T4": []}, "config": cfg, "tables": ["T1", "T4"], "command": "a",
             "cpu_seconds": {"T1/lift/0": 1.0, "T4/lift/0": 0.1},
             "errors": [{"job": "T4/lift/0", "error": "ValueError: wrong arm", "trace": ""}]}
    second = {"rows": {t: (rows["T4"] if t == "T4" else []) for t in rows}, "config": cfg, "tables": ["T4"],
              "command": "b", "cpu_seconds": {"T4/lift/0": 9.0}, "errors": [], "partial": True}
    paths = []
    for name, run in (("first.json", first), ("second.json", second)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(run))
    assert ev.main(["--summarize", ",".join(map(str, paths)), "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "outcomes.json").read_text())
    assert merged["rows"]["T1"] == rows["T1"] and merged["rows"]["T4"] == rows["T4"]
    assert merged["errors"] == [] and [r["command"] for r in merged["runs"]] == ["a", "b"]
    other = dict(second, config={**cfg, "sim": "mujoco"})
    paths[1].write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="different simulators"):
        ev.main(["--summarize", ",".join(map(str, paths)), "--out", str(tmp_path / "x")])


def test_eval_cli_rejects_unknown_tables(capsys):
    assert ev.main(["--tables", "T9", "--no-progress"]) == 2
    assert "unknown tables" in capsys.readouterr().err


def test_seed_list_runs_only_those_seeds(tmp_path, monkeypatch, capsys):
    """`--seed-list 1,2` finishes a run stopped after seed 0: only seeds 1 and 2 are scheduled."""
    from hitl_bringup.eval import cli, report

    seen: dict = {}

    def fake_run(cfg, tables, jobs, out, progress=True, command=""):
        seen["jobs"] = [j[0] for j in cli.build_jobs(cfg, tables, str(out / "cache"))]
        return {"errors": []}

    monkeypatch.setattr(cli, "run", fake_run)
    monkeypatch.setattr(report, "print_report", lambda result: None)
    argv = ["--tables", "T1,T2", "--t1-tasks", "lift", "--seed-list", "2,1", "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    assert sorted(j for j in seen["jobs"] if not j.startswith("base/")) == ["T1/lift/1", "T1/lift/2", "T2/1", "T2/2"]
    for bad in ("x", "-1", ","):
        assert cli.main(["--seed-list", bad, "--out", str(tmp_path), "--no-progress"]) == 2
        assert "--seed-list" in capsys.readouterr().err


@pytest.mark.parametrize("main", [ev.main, rounds_main])
def test_clis_help(main, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.slow
def test_micro_eval_writes_outcomes(tmp_path):
    cfg = ev.EvalConfig.make(quick=True)
    cfg.seeds = (0,)
    cfg.t4_episodes, cfg.t4_eval_episodes, cfg.t4_finetune_steps, cfg.t4_base_steps = 3, 3, 20, 50
    result = ev.run(cfg, ("T4",), jobs=1, out=tmp_path, progress=False)
    assert not result["errors"], result["errors"]
    saved = json.loads((tmp_path / "outcomes.json").read_text())
    assert {r["method"] for r in saved["rows"]["T4"]} == set(ev.T4_METHODS)
    assert (tmp_path / "t4_mile.png").exists()


@pytest.mark.slow
def test_micro_t1_sweeps_every_gate_over_the_flag_rates(tmp_path):
    cfg = ev.EvalConfig.make(quick=True)
    cfg.seeds, cfg.num_envs, cfg.t1_tasks = (0,), 2, (("lift", "test"),)
    cfg.t1_demos, cfg.diffusion_steps, cfg.ensemble_steps, cfg.ebm_steps, cfg.diffusion_batch = 2, 5, 5, 5, 16
    cfg.calib_episodes, cfg.t1_episodes, cfg.t1_flag_rates = 1, 2, (0.05, 0.3)
    result = ev.run(cfg, ("T1",), jobs=1, out=tmp_path, progress=False)
    assert not result["errors"], result["errors"]
    cells = {(r["gate"], r["flag_rate"]) for r in result["rows"]["T1"]}
    assert cells == {(g, rate) for g in ev.T1_GATES for rate in (0.05, 0.15, 0.3)}  # + target_rate
    for g in ev.T1_GATES:  # a higher flag rate means a lower threshold on the same calibration scores
        thr = {r["flag_rate"]: r["threshold"] for r in result["rows"]["T1"] if r["gate"] == g}
        assert thr[0.05] >= thr[0.15] >= thr[0.3]
    assert {r["gate"] for r in result["summary"]["T1_equal"]} == set(ev.T1_GATES)
    assert (tmp_path / "t1_equal_success.png").exists()


@pytest.mark.slow
def test_micro_t3_runs_the_diffusion_policy_through_every_method(tmp_path):
    cfg = ev.EvalConfig.make(quick=True)
    cfg.seeds, cfg.num_envs, cfg.diffusion_batch = (0,), 2, 16
    cfg.t3_demos, cfg.t3_base_steps, cfg.t3_rounds, cfg.t3_max_episodes = 2, 5, 1, 2
    cfg.t3_finetune_steps, cfg.t3_eval_episodes = 3, 2
    result = ev.run(cfg, ("T3",), jobs=1, out=tmp_path, progress=False)
    assert not result["errors"], result["errors"]
    assert [m["policy"] for m in result["T3_meta"]] == ["diffusion"]
    rounds = {(r["method"], r["round"]) for r in result["rows"]["T3"]}
    assert rounds == {(m, k) for m in ev.T3_METHODS for k in (0, 1)} | {("full-demos", 1)}
    assert all(r["human_samples_total"] > 0 for r in result["rows"]["T3"] if r["round"] == 1)
    assert (tmp_path / "t3_iwr.png").exists()


@pytest.mark.slow
def test_rounds_cli_end_to_end(tmp_path):
    from hitl_policy.learning.gaussian_policy import GaussianMLPPolicy

    from hitl_sim import collect_demos

    demos = collect_demos("lift", "franka", 3, "train", seed=0, progress=False, backend="kinematic")  # fast fixture
    demos.save(tmp_path / "demos.npz")
    base = GaussianMLPPolicy.create(demos.obs_dim, demos.act_dim, n_obs=2, horizon=4, n_action=2,
                                    hidden=(32,))
    base.fit(demos, 30, 32, progress=False)
    base.save(tmp_path / "base.pt")
    rc = rounds_main(["--base", str(tmp_path / "base.pt"), "--pretrain", str(tmp_path / "demos.npz"),
                      "--task", "lift", "--method", "iwr", "--rounds", "1", "--episodes", "2",
                      "--num-envs", "2", "--max-episodes", "2", "--steps", "10", "--eval-episodes", "2",
                      "--out", str(tmp_path / "r"), "--no-progress", "--sim", "kinematic"])
    assert rc == 0
    saved = json.loads((tmp_path / "r" / "rounds.json").read_text())
    assert [r["round"] for r in saved["rounds"]] == [0, 1]
    rnd = EpisodeDataset.load(tmp_path / "r" / "round_1.npz")
    assert rnd.n_episodes == 2 and (rnd.source == SOURCE_HUMAN).sum() == saved["rounds"][1]["human_samples"]
    assert (tmp_path / "r" / "round_1.pt").exists()


def test_auroc_and_failure_labels():
    from hitl_bringup.eval.auroc import auroc, failure_labels

    assert auroc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5, 0.5], [1, 0, 0]) == 0.5  # ties count half
    assert auroc([0.3, 0.5, 0.8], [1, 0, 1]) == pytest.approx(0.5)
    assert auroc([0.1, 0.2], [0, 0]) is None
    # episodes of 12 (failed) and 10 (succeeded) steps, chunk 4: the failed episode's last 4 steps are positive
    d = EpisodeDataset(obs=np.zeros((22, 1), np.float32), action=np.zeros((22, 1), np.float32),
                       current=np.zeros((22, 1), np.float32), episode_ends=np.array([12, 22]),
                       success=np.array([False, True]))
    chunk, episode = failure_labels(d, horizon=4)
    assert list(np.flatnonzero(chunk)) == [8, 9, 10, 11]
    assert episode[:12].all() and not episode[12:].any()


def test_outcomes_schema_readme_and_docs(tmp_path):
    cfg = ev.EvalConfig.make(quick=True)
    rows = fake_rows()
    s = ev.summarize(rows, cfg)
    tables = ev.outcome_tables(s, rows, cfg)
    assert set(tables) == {"T1", "T2", "T3", "T4", "T5"}
    for t, body in tables.items():
        assert body["cells"] and body["orderings"], t
        for c in body["cells"]:
            assert {"metric", "per_seed", "mean", "std", "n", "paper"} <= set(c), (t, c)
            assert len(c["per_seed"]) == 3 and c["mean"] == pytest.approx(np.mean(list(c["per_seed"].values())))
        assert all(o["verdict"] in ("holds", "reversed", "tie", "incomparable") for o in body["orderings"])
    paper = {(c["gate"], c["metric"]): c["paper"] for c in tables["T1"]["cells"] if c["task"] == "lift-test"}
    assert paper[("denoising_vector", "human_steps_at_equal_success")] == 20.0
    assert paper[("ensemble_variance", "human_steps_at_equal_success")] == 56.0  # HULA-offline
    assert paper[("random", "human_steps_at_equal_success")] is None
    t5 = {(c["radius"], c["metric"]): c["paper"] for c in tables["T5"]["cells"]}
    assert t5[(0.05, "human_steps")] == 20.0 and t5[(0.01, "success")] == 0.46
    assert [a["gate"] for a in tables["T1"]["auroc"]] == list(T1_STEPS)
    note = tables["T1"]["auroc_vs_effort"][0]
    assert note["by_auroc"][0] == "denoising_vector" and note["spearman"] == pytest.approx(1.0)
    result = {"summary": s, "config": {**ev.asdict(cfg), "seeds": [0, 1, 2]}, "mode": "quick", "simulator": "kinematic",
              "command": "c", "seconds_total": 1.0, "machine": {"cpus": 2, "jobs": 2}, **tables}
    text = ev.readme_section(result)
    assert "kinematic simulator" in text and "- **T5** sampling radius" in text and "holds" in text
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nHand-written method notes.\n")
    ev.write_results_doc(result, doc, "bench/results/outcomes.json")
    ev.write_results_doc(result, doc, "bench/results/outcomes.json")  # idempotent: replaces its own part
    out = doc.read_text()
    assert out.startswith("# Results\n\nHand-written method notes.") and out.count("BEGIN GENERATED") == 1
    assert "### T5 sampling radius" in out


def test_sim_backend_is_passed_explicitly(monkeypatch):
    import hitl_sim
    from hitl_bringup import sim_backend

    seen = []

    def with_backend(task, arm, num_envs=1, variant="train", seed=0, backend=None):
        seen.append(backend)

    def without_backend(task, arm, num_envs=1, variant="train", seed=0):
        seen.append("none")

    monkeypatch.setattr(hitl_sim, "make_env", with_backend)
    sim_backend.make_env("lift", "franka", 2, "test", 0)
    sim_backend.make_env("lift", "franka", 2, "test", 0, sim="mujoco")
    assert seen == ["kinematic", "mujoco"]  # never the factory's own default (MuJoCo where a model exists)
    monkeypatch.setattr(hitl_sim, "make_env", without_backend)
    sim_backend.make_env("lift", "franka", 2, "test", 0)
    with pytest.raises(ValueError, match="no backend parameter"):
        sim_backend.make_env("lift", "franka", 2, "test", 0, sim="mujoco")
    cfg = ev.EvalConfig.make(quick=False, sim="mujoco")
    assert cfg.t3_task == "square" and cfg.t4_tasks == ("drawer_open", "peg_insert", "button_press")
    with pytest.raises(ValueError, match="unknown simulator"):
        ev.EvalConfig.make(quick=True, sim="bullet")


@pytest.mark.slow
def test_eval_quick_runs_every_pipeline(tmp_path):
    """`make eval-quick`: every table's pipeline at CI size, 3 seeds, outcomes in the issue's schema."""
    import time

    t0 = time.monotonic()
    assert ev.main(["--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    seconds = time.monotonic() - t0
    saved = json.loads((tmp_path / "outcomes.json").read_text())
    assert saved["simulator"] == "kinematic" and not saved["errors"]
    for t in ev.TABLES:
        assert saved[t]["cells"] and saved[t]["orderings"], t
        assert all(len(c["per_seed"]) == 3 for c in saved[t]["cells"] if c["n"]), t
    assert {r["gate"] for r in saved["rows"]["AUROC"]} == set(ev.T1_GATES)
    assert saved["gating"]["lift"]["min_intervention_s"] == 2.0
    print(f"eval-quick: {seconds:.0f} s")


def _job_rows(name: str) -> dict:
    return {"T4": [{"table": "T4", "task": "x", "method": name, "seed": 0, "success": 1.0}]}


def _job_killed(name: str) -> dict:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does to a worker
    return {}


def test_a_worker_killed_mid_job_loses_only_its_job(tmp_path, monkeypatch):
    """A worker killed (out of memory) breaks the process pool and fails every job in it: those run again
    one at a time, so the job that killed its worker is the only error (not the one that happened to run
    beside it), the others still run, and the rows that finished are on disk before outcomes.json."""
    from hitl_bringup.eval import cli

    jobs = [("killed", "", _job_killed, "killed")] + [(f"ok{i}", "", _job_rows, f"ok{i}") for i in range(4)]
    monkeypatch.setattr(cli, "build_jobs", lambda cfg, tables, cache: jobs)
    monkeypatch.setattr(cli, "finish", lambda result, cfg, out: result)
    result = cli.run(ev.EvalConfig.make(quick=True), ("T4",), jobs=2, out=tmp_path, progress=False)
    assert [(e["job"], "worker process died" in e["error"]) for e in result["errors"]] == [("killed", True)]
    done = {r["method"] for r in result["rows"]["T4"]}
    assert done == {"ok0", "ok1", "ok2", "ok3"}
    partial = json.loads((tmp_path / "rows.partial.json").read_text())
    assert {r["method"] for r in partial["rows"]["T4"]} == done
    assert partial["partial"] and partial["config"]["sim"] == "kinematic"  # `--summarize` reads it


def _job_shelf_state(name: str) -> dict:
    from hitl_bringup.eval.common import setup_worker
    from hitl_sim.mj import shelf

    setup_worker()
    return {"T4": [{"method": name, "shelf": shelf.limit()}]}


def _job_failing(name: str) -> dict:
    raise RuntimeError(f"{name} failed")


def test_an_in_process_run_reuses_tasks_only_while_it_runs(tmp_path, monkeypatch):
    """``jobs=1`` runs the jobs in the caller's process: the shelf of built MuJoCo tasks is on for the run
    and off (its tasks closed) after it, even when a job fails, so the caller keeps no idle tasks; in
    worker processes (``jobs=2``) it is on from their start."""
    from hitl_bringup.eval import cli
    from hitl_bringup.eval.common import SHELF_TASKS
    from hitl_sim.mj import shelf

    jobs = [("a", "", _job_shelf_state, "a"), ("b", "", _job_failing, "b")]
    monkeypatch.setattr(cli, "build_jobs", lambda cfg, tables, cache: jobs)
    monkeypatch.setattr(cli, "finish", lambda result, cfg, out: result)
    result = cli.run(ev.EvalConfig.make(quick=True), ("T4",), jobs=1, out=tmp_path, progress=False)
    assert [r["shelf"] for r in result["rows"]["T4"]] == [SHELF_TASKS]
    assert [e["job"] for e in result["errors"]] == ["b"]
    assert shelf.limit() == 0 and shelf.idle_count() == 0
    result = cli.run(ev.EvalConfig.make(quick=True), ("T4",), jobs=2, out=tmp_path, progress=False)
    assert [r["shelf"] for r in result["rows"]["T4"]] == [SHELF_TASKS]  # a worker process reuses them too
    assert shelf.limit() == 0


def test_metaworld_tasks_run_on_their_own_arm():
    """T4's Metaworld tasks exist only on Metaworld's Sawyer: the evaluation's arm (franka) gives way."""
    from hitl_bringup.sim_backend import arm_for

    assert arm_for("drawer_open", "franka", "mujoco") == "sawyer"
    assert arm_for("lift", "franka", "mujoco") == "franka"
    assert arm_for("drawer_open", "franka", "kinematic") == "franka"
    with pytest.raises(ValueError, match="runs on arms"):
        arm_for("drawer", "yumi", "mujoco")
