"""hitl_eval: the evaluation harness (tables T1-T5 of docs/results.md).

    python -m hitl_bringup.eval [--quick] [--sim kinematic|mujoco] [--jobs 2] [--out bench/results]
                                [--tables T1,T2,T3,T4,T5] [--summarize OUTCOMES_JSON] [--docs docs/results.md]

T1 human effort (diffusion paper, Table I): human steps per episode at equal assisted success on lift
   (unseen objects), cup_stack and drawer for five gates (the paper's denoising-vector recipe, the
   project's variant, ensemble variance, random, Jeffreys on an EBM), each calibrated to the same
   flag rates on nominal rollouts; plus each gate's AUROC for "the policy fails within the next chunk".
T2 targeted data (Fig. 8): lift-unseen success after 50/50 fine-tuning on N uncertainty-selected human
   steps vs N steps of full demonstrations.
T3 IWR (IWR, Table I): IWR vs IWR-NB vs HG-DAgger vs full demos at equal human samples, 3 rounds.
T4 MILE (MILE, Fig. 3): MILE vs HG-DAgger vs IWR vs BC-intervention from a weak policy.
T5 sampling radius (Table IV): the paper recipe's radius 0.01 / 0.03 / 0.05 / 0.1 on lift-unseen.

Every deployment gates with the task YAML's settings (hitl_bringup.gating). Every cell runs for >= 3
seeds; outcomes.json holds each seed's numbers, mean and spread, the paper's value and the verdicts.
Modules: config (fixed choices), common (rollouts, scoring, calibration; also used by hitl_demo),
base (cached base models), t1..t5 and auroc (one per table), summary (outcomes schema), report
(markdown, README text), plots, cli.
"""

from __future__ import annotations

from dataclasses import asdict

from hitl_bringup.eval.cli import main, resummarize, run
from hitl_bringup.eval.common import first_steps
from hitl_bringup.eval.config import T1_GATES, T3_METHODS, T4_METHODS, T5_RADII, TABLES, EvalConfig, flag_rates
from hitl_bringup.eval.plots import plot
from hitl_bringup.eval.report import markdown_report, readme_section, write_results_doc
from hitl_bringup.eval.summary import orderings, outcome_tables, summarize
from hitl_bringup.eval.t1 import effort_at, equal_success

__all__ = ["T1_GATES", "T3_METHODS", "T4_METHODS", "T5_RADII", "TABLES", "EvalConfig", "asdict", "effort_at",
           "equal_success", "first_steps", "flag_rates", "main", "markdown_report", "orderings", "outcome_tables",
           "plot", "readme_section", "resummarize", "run", "summarize", "write_results_doc"]
