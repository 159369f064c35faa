"""What every policy offers the nodes, the estimators and the learning algorithms."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from hitl_core.data import EpisodeDataset


@runtime_checkable
class Policy(Protocol):
    """A policy over raw (unnormalized) arrays; normalization lives inside.

    kind: "diffusion" | "ebm" | "ensemble"; n_obs: observation history length;
    horizon: predicted chunk length; n_action: executed steps of a chunk; obs_dim, act_dim.
    """

    kind: str
    n_obs: int
    horizon: int
    n_action: int
    obs_dim: int
    act_dim: int

    def predict_chunk(self, obs_hist: np.ndarray) -> np.ndarray:
        """(B, n_obs, obs_dim) -> (B, horizon, act_dim) absolute actions (raw units)."""
        ...

    def fit(self, dataset: EpisodeDataset, steps: int, batch_size: int = 256, progress: bool = True,
            sample_weights: np.ndarray | None = None) -> dict:
        """Train (or continue training) on the dataset's windows; returns training stats."""
        ...

    def training_loss(self, obs_hist: torch.Tensor, act_chunk: torch.Tensor) -> torch.Tensor:
        """Per-sample loss (B,) on normalized-internally raw batches; the learning algorithms
        (IWR, 50/50 mix, HG-DAgger) build their batches and call this."""
        ...

    def parameters(self): ...

    def save(self, path: str | Path) -> Path: ...
