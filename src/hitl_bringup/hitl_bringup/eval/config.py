"""The evaluation's fixed choices (sizes, steps, flag rates), set before any result was seen.

Why each value is what it is, and the tuning history of the few that were chosen by a measurement
(T3's base steps, T4's weak policy), is in docs/results.md ("Fixed choices"). The gating itself
(threshold rule, release rule, minimum intervention time) is not chosen here: every deployment takes
it from the task YAML through ``hitl_bringup.gating`` (``GateConfig.for_task``), as the deploy graph does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TABLES = ("T1", "T2", "T3", "T4", "T5")
BACKENDS = ("kinematic", "mujoco")
# T1's gates: the paper's literal denoising-vector recipe, the project's chosen variant, ensemble
# variance (the HULA-style baseline), random, and Jeffreys divergence on an EBM (IIFL).
T1_GATES = ("denoising_vector_paper", "denoising_vector", "ensemble_variance", "random", "jeffreys")
DENOISING_GATES = ("denoising_vector_paper", "denoising_vector")
T3_METHODS = ("iwr", "iwr-nb", "hg-dagger")
T4_METHODS = ("mile", "hg-dagger", "iwr", "bc-intervention")
T5_RADII = (0.01, 0.03, 0.05, 0.1)

# Tasks per simulator backend: the papers' tasks where the backend has them.
BACKEND_TASKS = {
    "kinematic": {"t1": (("lift", "test"), ("cup_stack", "train"), ("drawer", "train")),
                  "t3": "threading", "t4": ("lift",)},
    "mujoco": {"t1": (("lift", "test"), ("cup_stack", "train"), ("drawer", "train")),
               "t3": "square", "t4": ("drawer_open", "peg_insert", "button_press")},
}


# The full run on MuJoCo: a robosuite step costs ~20 ms of CPU against ~0.1 ms on the kinematic simulator,
# so the rollout counts are halved and T1 sweeps two flag rates instead of three (models, demos and
# fine-tuning as in the kinematic full run). Set before any MuJoCo result was seen (docs/results.md).
MUJOCO_FULL = {"t1_episodes": 10, "t1_flag_rates": (0.15,), "t2_eval_episodes": 10, "t2_max_episodes": 40,
               "t3_eval_episodes": 5, "t3_max_episodes": 20, "t3_eval_every_round": False, "t4_eval_episodes": 10,
               "t5_episodes": 10, "t5_eval_episodes": 10, "ebm_batch": 64,
               # chosen by the bases' own success on MuJoCo (bench/base_steps.py, docs/results.md)
               "t3_base_steps": 2000, "t4_base_steps": {"drawer_open": 50, "peg_insert": 100, "button_press": 25}}
# cut on CPU cost alone for the 60-minute budget (2026-12-03, docs/results.md "make-eval budget"), from
# T3 evaluation 10 -> 5 episodes (robosuite steps of failing rollouts: ~45 CPU s per 10), T4 evaluation
# 20 -> 10, the EBM's batch 256 -> 64 (its 64 counter-examples a sample made it ~1000 of 9541 CPU s)
# and again (session 9, from 8714 CPU s / 74.2 min): T1 deploys at the main flag rate only (15 %; its
# deployments were ~80 % of a T1 job's ~260 CPU s, robosuite's stepping ~75 % of that)
# and again (session 10, from 8740 CPU s / 73.7 min): T3 evaluates autonomous success after round 0 and the
# last round only (the table's verdict is the last round's; ~10 % of a T3 job), its rounds' later deployment
# batches run only the episodes the human-sample target still needs (rounds.next_batch_size: same samples,
# ~20 %), and full demos collect 2 spare demos, not 10. robosuite's controller and physics are ~95 % of a
# square deployment's CPU (cProfile, docs/results.md); nothing of the stack's own code is left to cut there.


@dataclass
class EvalConfig:
    quick: bool = False
    sim: str = "kinematic"
    seeds: tuple[int, ...] = (0, 1, 2)
    arm: str = "franka"
    num_envs: int = 10
    reaction_ticks: int = 3              # the simulated operator's delay before answering (SimOperatorConfig's)
    expert_gate: float = 1.0             # T3/T4: the simulated human steps in when the robot's next target
                                         # is more than one tolerance off the expert's (ExpertDeviationGate)
    score_every: int | None = None       # None: the task YAML's nodes.uncertainty.every_n (what is deployed)
    # T1 / T2 / T5 / AUROC: the base diffusion policy, trained once per task (training seed policy_seed)
    t1_tasks: tuple[tuple[str, str], ...] = BACKEND_TASKS["kinematic"]["t1"]
    t1_demos: int = 100
    diffusion: dict = field(default_factory=lambda: {"n_obs": 2, "horizon": 8, "n_action": 4})
    policy_seed: int = 0
    diffusion_steps: int = 4000          # batch 256: what hitl_demo trains
    diffusion_batch: int = 256
    ensemble_steps: int = 3000
    # the EBM behind the Jeffreys gate: one-step actions (IIFL acts per step), 64 uniform counter-examples
    # and no gradient penalty (IBC's derivative-free training): Langevin counter-examples with the
    # penalty cost ~1 s per training step on this machine, this ~0.04 s (docs/results.md)
    ebm: dict = field(default_factory=lambda: {"n_obs": 2, "horizon": 1, "n_action": 1, "grad_penalty": False,
                                               "counter_examples": "uniform", "train_counter_examples": 64})
    ebm_steps: int = 2000
    ebm_batch: int = 256
    batch_size: int = 64                 # fine-tuning and the Gaussian policies
    target_rate: float = 0.15            # the main T1 table, T2's and T5's gates
    t1_flag_rates: tuple[float, ...] = (0.05, 0.15, 0.3)
    calib_episodes: int = 6
    t1_episodes: int = 20
    denoising_params: dict = field(default_factory=dict)
    # AUROC of each gate's score for "the policy fails within the next chunk" (autonomous rollouts)
    auroc_max_pos: int = 150
    auroc_max_neg: int = 300
    t2_budgets: tuple[int, ...] = (80, 160)
    t2_max_episodes: int = 60
    t2_finetune_steps: int = 1000
    t2_eval_episodes: int = 20
    ft_lr_diffusion: float = 1e-4
    # T3: the x0 diffusion policy, fine-tuned with hitl_finetune's finetune() (base steps: docs/results.md)
    t3_task: str = BACKEND_TASKS["kinematic"]["t3"]
    t3_demos: int = 30
    t3_base_steps: int = 500
    t3_rounds: int = 3
    t3_round_fraction: float = 1 / 3
    t3_max_episodes: int = 40
    t3_finetune_steps: int = 1000
    t3_eval_episodes: int = 20
    t3_eval_every_round: bool = True     # False: autonomous success after round 0 and the last round only
    # T4: a Gaussian MLP weak policy (MILE needs action likelihoods; choice: docs/results.md)
    gauss: dict = field(
        default_factory=lambda: {"n_obs": 2, "horizon": 8, "n_action": 4, "hidden": (256, 256)}
    )
    gauss_lr: float = 1e-3
    gauss_batch: int = 256
    ft_lr_gauss: float = 3e-4
    t4_tasks: tuple[str, ...] = BACKEND_TASKS["kinematic"]["t4"]
    t4_demos: int = 30
    t4_flag_rate: float = 0.15
    t4_base_steps: int | dict[str, int] = 5000  # one count, or per task (MuJoCo: chosen per Metaworld task)
    t4_episodes: int = 15
    t4_finetune_steps: int = 1000
    t4_eval_episodes: int = 20
    # T5: the paper recipe's sampling radius (raw action units) on lift-unseen
    t5_radii: tuple[float, ...] = T5_RADII
    t5_episodes: int = 20
    t5_finetune_steps: int = 1000
    t5_eval_episodes: int = 20

    def t4_steps_for(self, task: str) -> int:
        """The weak policy's training steps on ``task``."""
        steps = self.t4_base_steps
        return int(steps[task]) if isinstance(steps, dict) else int(steps)

    @property
    def t4_task(self) -> str:  # older outcomes files name one T4 task
        return self.t4_tasks[0]

    @classmethod
    def make(cls, quick: bool, sim: str = "kinematic") -> EvalConfig:
        if sim not in BACKENDS:
            raise ValueError(f"unknown simulator {sim!r}; expected one of {BACKENDS}")
        tasks = BACKEND_TASKS[sim]
        base = {"sim": sim, "t1_tasks": tasks["t1"], "t3_task": tasks["t3"], "t4_tasks": tasks["t4"]}
        if not quick:
            return cls(**base, **(MUJOCO_FULL if sim == "mujoco" else {}))
        return cls(
            **base,
            quick=True,
            num_envs=6,
            score_every=3,
            t1_demos=10,
            diffusion_steps=300,
            diffusion_batch=64,
            ensemble_steps=200,
            ebm_steps=100,
            ebm_batch=64,
            calib_episodes=3,
            t1_episodes=6,
            t1_flag_rates=(0.15, 0.3),
            denoising_params={"n_points": 16},
            auroc_max_pos=60,
            auroc_max_neg=120,
            t2_budgets=(40,),
            t2_max_episodes=12,
            t2_finetune_steps=150,
            t2_eval_episodes=6,
            t3_demos=8,
            t3_base_steps=300,
            t3_max_episodes=6,
            t3_finetune_steps=150,
            t3_eval_episodes=6,
            t3_eval_every_round=False,
            t4_demos=4,
            gauss_batch=64,
            t4_base_steps=200,
            t4_episodes=6,
            t4_finetune_steps=150,
            t4_eval_episodes=6,
            t5_episodes=6,
            t5_finetune_steps=150,
            t5_eval_episodes=6,
        )

    @classmethod
    def from_dict(cls, saved: dict) -> EvalConfig:
        """A config from an outcomes file's ``config`` (unknown keys ignored, lists back to tuples)."""
        known = set(cls.__dataclass_fields__)
        kw = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
              for k, v in saved.items() if k in known}
        if "t4_task" in saved and "t4_tasks" not in saved:
            kw["t4_tasks"] = (saved["t4_task"],)
        return cls(**kw)


def flag_rates(cfg: EvalConfig) -> tuple[float, ...]:
    """T1's flag rates, always including ``target_rate`` (the main table's)."""
    return tuple(sorted({*cfg.t1_flag_rates, cfg.target_rate}))
