"""The uncertainty side of the arbiter's decision: when is the score high enough to ask for help,
and low enough, for long enough, to hand control back (docs/arbiter.md, Details)."""

from __future__ import annotations

import numpy as np

from hitl_teleop.arbiter.config import ArbiterConfig


class HelpGate:
    """Threshold, release hysteresis and an operator's accepted hand-back (``rearm_ratio``)."""

    def __init__(self, config: ArbiterConfig):
        self.config = config
        self.score: float | None = None  # the latest finite score
        self.message_threshold: float | None = None  # the threshold carried by the Uncertainty messages
        self.low_count = 0  # consecutive messages below the release level
        self.accepted_score: float | None = None  # the score an operator handed back at (rearm_ratio)

    @property
    def threshold(self) -> float:
        if self.config.threshold is not None:
            return float(self.config.threshold)
        return float(self.message_threshold) if self.message_threshold is not None else float("inf")

    @property
    def release_level(self) -> float:
        return self.threshold * self.config.release_ratio

    def level(self) -> float:
        """The score above which the robot asks for help now (raised after an accepted hand-back)."""
        if self.accepted_score is None:
            return self.threshold
        return max(self.threshold, self.accepted_score * self.config.rearm_ratio)

    def observe(self, score: float, threshold: float | None) -> None:
        """One Uncertainty message (a finite score)."""
        self.score = float(score)
        if threshold is not None and np.isfinite(threshold) and threshold >= 0:  # 0 is legal (hitl_core/threshold.py)
            self.message_threshold = float(threshold)
        if self.score < self.release_level:
            self.low_count += 1
            self.accepted_score = None  # the novelty the operator vouched for is over
        else:
            self.low_count = 0

    def is_high(self) -> bool:
        return self.score is not None and self.score > self.level()

    def is_released(self) -> bool:
        """The score stayed below the release level for ``release_ticks`` messages."""
        return self.low_count >= self.config.release_ticks

    def accept_handback(self) -> bool:
        """An operator hands back: with ``rearm_ratio`` and a high score, raise the help level. True if raised."""
        if self.config.rearm_ratio > 0 and self.score is not None and self.score > self.threshold:
            self.accepted_score = self.score
        return self.accepted_score is not None

    def new_episode(self) -> None:
        self.score, self.low_count, self.accepted_score = None, 0, None
