"""The one interface every uncertainty estimator implements: a batch of robots in, one score each out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class UncertaintyResult:
    """One robot's uncertainty at one observation.

    score: the scalar compared against the threshold.
    The denoising-vector estimator also fills the mixture description (modes in the frame of the
    sampled points, unnormalized action units) and the sampled points/vectors for drawing.
    """

    score: float
    estimator: str
    mode_count: int = 0
    mode_divergence: float = 0.0
    within_mode_variance: float = 0.0
    mode_means: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    mode_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


@runtime_checkable
class UncertaintyEstimator(Protocol):
    """obs_hist: (B, n_obs, obs_dim) raw observations; current: (B, act_dim) the arms' current
    poses in action coordinates (raw units). Returns B results, in order."""

    name: str

    def estimate(self, obs_hist: np.ndarray, current: np.ndarray) -> list[UncertaintyResult]: ...
