"""ArbiterConfig: the arbiter's parameters (arbiter_node parameters and task YAML; docs/arbiter.md)."""

from __future__ import annotations

from dataclasses import dataclass

from hitl_teleop.arbiter.types import GATINGS


@dataclass
class ArbiterConfig:
    robot_id: str = ""
    threshold: float | None = None  # None: use the threshold carried by each Uncertainty message
    release_ratio: float = 0.8  # back to the policy when score < threshold * release_ratio ...
    release_ticks: int = 3  # ... for this many consecutive uncertainty messages
    min_intervention_s: float = 0.0  # t_T; the effective minimum is at least one action chunk
    policy_timeout_s: float = 0.15
    observation_timeout_s: float = 0.3
    device_timeout_s: float = 0.15  # 3 periods of the slowest device stream (PS3 pad, console, sim operator: 20 Hz)
    gating: str = "both"  # "robot" | "human" | "both"
    require_deadman: bool = True  # HUMAN needs engaged=True, else hold
    # Operator hand-back while the score is still above the threshold (take-over button pressed and
    # released during a robot-gated intervention, or released after a human-gated one): 0 asks for
    # help again at once; r > 0 accepts the hand-back and asks again only when the score exceeds
    # r * (score at the hand-back). The acceptance ends when the score drops below the release level
    # or a new episode starts. Like acknowledging an alarm: the human vouched for this much novelty.
    rearm_ratio: float = 0.0
    rate_hz: float | None = None  # control rate (speed clamp per tick); default: the arm profile's
    # Real arms: the simulator's end-effector frame on the TCP, T_sim = T_tcp @ T(xyz, rpy) (the observation
    # bridge's ee_offset_*). A policy's (x, y, z, yaw) is a simulator pose; commands carry TCP poses.
    ee_offset_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ee_offset_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # Real arms: the observation layout the policy was trained on (the bridge's ``simulator``); its yaw 0
    # is a different TCP heading in the MuJoCo tasks than in the kinematic simulator (tool_frame.py)
    ee_layout: str = "kinematic"

    @property
    def robot_gating(self) -> bool:
        """The robot asks for help when its score is high."""
        return self.gating in ("robot", "both")

    @property
    def human_gating(self) -> bool:
        """The operator's take-over button takes control."""
        return self.gating in ("human", "both")

    def __post_init__(self) -> None:
        if self.gating not in GATINGS:
            raise ValueError(f"gating must be one of {GATINGS}, got {self.gating!r}")
        if not 0.0 < self.release_ratio <= 1.0:
            raise ValueError(f"release_ratio must be in (0, 1], got {self.release_ratio}")
        if self.release_ticks < 1:
            raise ValueError(f"release_ticks must be >= 1, got {self.release_ticks}")
        if self.rearm_ratio != 0.0 and self.rearm_ratio < 1.0:
            raise ValueError(f"rearm_ratio must be 0 (off) or >= 1, got {self.rearm_ratio}")
        for name in ("policy_timeout_s", "observation_timeout_s", "device_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
