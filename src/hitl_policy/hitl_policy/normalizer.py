"""Per-dimension affine normalization fitted on data (diffusion_policy's 'limits' mode: to [-1, 1])."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Normalizer:
    """x_norm = (x - offset) / scale; dims with (almost) no range keep scale 1."""

    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, margin: float = 0.0, min_range: float = 1e-4) -> Normalizer:
        data = np.asarray(data, np.float64).reshape(-1, np.shape(data)[-1])
        lo, hi = data.min(0), data.max(0)
        rng = hi - lo
        pad = rng * margin
        lo, hi = lo - pad, hi + pad
        scale = np.where(rng < min_range, 1.0, (hi - lo) / 2.0)
        offset = np.where(rng < min_range, lo, (hi + lo) / 2.0)
        return cls(offset.astype(np.float32), scale.astype(np.float32))

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    @property
    def dim(self) -> int:
        return len(self.offset)

    def normalize(self, x):
        if isinstance(x, torch.Tensor):
            return (x - torch.as_tensor(self.offset, device=x.device)) / torch.as_tensor(self.scale, device=x.device)
        return (np.asarray(x, np.float32) - self.offset) / self.scale

    def unnormalize(self, x):
        if isinstance(x, torch.Tensor):
            return x * torch.as_tensor(self.scale, device=x.device) + torch.as_tensor(self.offset, device=x.device)
        return np.asarray(x, np.float32) * self.scale + self.offset

    def state_dict(self) -> dict:
        return {"offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict) -> Normalizer:
        return cls(np.asarray(state["offset"], np.float32), np.asarray(state["scale"], np.float32))
