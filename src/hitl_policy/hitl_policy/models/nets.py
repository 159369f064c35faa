"""Conditional noise-prediction networks for the diffusion policy (low-dimensional observations).

Both map (noisy action chunk (B, H, A), timestep (B,), flattened observation history (B, C)) to the
predicted noise (B, H, A). ``MLPNoiseNet`` flattens the chunk; ``ConditionalUnet1D`` is a small
version of Chi et al.'s temporal conv U-Net with FiLM conditioning on (timestep, observation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(
            torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000.0) / (half - 1))
        )
        arg = t.float()[:, None] * freq[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class MLPNoiseNet(nn.Module):
    """Residual MLP over [flattened chunk, time embedding, observation]."""

    def __init__(
        self,
        act_dim: int,
        horizon: int,
        cond_dim: int,
        hidden: Sequence[int] = (256, 256, 256),
        time_dim: int = 32,
    ) -> None:
        super().__init__()
        self.act_dim, self.horizon = act_dim, horizon
        self.time_emb = nn.Sequential(SinusoidalPosEmb(time_dim), nn.Linear(time_dim, time_dim), nn.Mish())
        dims = [act_dim * horizon + time_dim + cond_dim, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.act = nn.Mish()
        self.out = nn.Linear(dims[-1], act_dim * horizon)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h = torch.cat([x.reshape(b, -1), self.time_emb(t), cond], dim=-1)
        for i, layer in enumerate(self.layers):
            y = self.act(layer(h))
            h = h + y if i > 0 and y.shape == h.shape else y
        return self.out(h).reshape(b, self.horizon, self.act_dim)


class _ResBlock1D(nn.Module):
    """Two conv blocks; FiLM (scale, bias) from the conditioning vector between them."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int = 5, groups: int = 8) -> None:
        super().__init__()
        g = math.gcd(groups, c_out)
        self.block1 = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(g, c_out), nn.Mish()
        )
        self.block2 = nn.Sequential(
            nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2), nn.GroupNorm(g, c_out), nn.Mish()
        )
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.c_out = c_out

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.block1(x)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.block2(h * (1 + scale) + bias)
        return h + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """Temporal U-Net over the chunk (channels = action dims); the horizon must be divisible by
    2 ** (len(down_dims) - 1)."""

    def __init__(
        self,
        act_dim: int,
        horizon: int,
        cond_dim: int,
        down_dims: Sequence[int] = (64, 128, 256),
        time_dim: int = 64,
        kernel: int = 5,
    ) -> None:
        super().__init__()
        levels = len(down_dims)
        if horizon % (2 ** (levels - 1)):
            raise ValueError(
                f"unet: horizon {horizon} is not divisible by 2**{levels - 1} (down_dims={list(down_dims)})"
            )
        self.act_dim, self.horizon = act_dim, horizon
        self.time_emb = nn.Sequential(
            SinusoidalPosEmb(time_dim),
            nn.Linear(time_dim, 4 * time_dim),
            nn.Mish(),
            nn.Linear(4 * time_dim, time_dim),
        )
        c = time_dim + cond_dim
        dims = [act_dim, *down_dims]
        self.down = nn.ModuleList()
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            last = i == levels - 1
            self.down.append(
                nn.ModuleList(
                    [
                        _ResBlock1D(a, b, c, kernel),
                        _ResBlock1D(b, b, c, kernel),
                        nn.Conv1d(b, b, 3, 2, 1) if not last else nn.Identity(),
                    ]
                )
            )
        mid = down_dims[-1]
        self.mid = nn.ModuleList([_ResBlock1D(mid, mid, c, kernel), _ResBlock1D(mid, mid, c, kernel)])
        self.up = nn.ModuleList()
        rev = list(down_dims)[::-1]
        for a, b in itertools.pairwise(rev):
            self.up.append(
                nn.ModuleList(
                    [
                        _ResBlock1D(2 * a, b, c, kernel),
                        _ResBlock1D(b, b, c, kernel),
                        nn.ConvTranspose1d(b, b, 4, 2, 1),
                    ]
                )
            )
        g = math.gcd(8, down_dims[0])
        self.final = nn.Sequential(
            nn.Conv1d(down_dims[0], down_dims[0], kernel, padding=kernel // 2),
            nn.GroupNorm(g, down_dims[0]),
            nn.Mish(),
            nn.Conv1d(down_dims[0], act_dim, 1),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        g = torch.cat([self.time_emb(t), cond], dim=-1)
        h = x.transpose(1, 2)  # (B, A, H)
        skips = []
        for r1, r2, down in self.down:
            h = r2(r1(h, g), g)
            skips.append(h)
            h = down(h)
        for m in self.mid:
            h = m(h, g)
        for r1, r2, up in self.up:
            h = r2(r1(torch.cat([h, skips.pop()], dim=1), g), g)
            h = up(h)
        return self.final(h).transpose(1, 2)


def make_noise_net(
    net: str, act_dim: int, horizon: int, cond_dim: int, hidden: Sequence[int], down_dims: Sequence[int]
) -> nn.Module:
    if net == "mlp":
        return MLPNoiseNet(act_dim, horizon, cond_dim, hidden)
    if net == "unet":
        return ConditionalUnet1D(act_dim, horizon, cond_dim, down_dims)
    raise ValueError(f"unknown noise net {net!r}: expected 'mlp' or 'unet'")
