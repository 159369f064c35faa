"""Seeding a deployment's random draws from the deployment's own seed.

The samplers (the diffusion policy's DDIM noise, the denoising gate's points, Jeffreys' Langevin chains,
the random gate, an EBM's counter-examples through torch's global generator) keep generators that
advance with every draw. Without reseeding, what a deployment draws depends on every deployment that ran
before it in the same process, so the evaluation's cells depended on their order in a job. The
in-process deployment loop (hitl_bringup/sim_loop.py ``deploy``) calls :func:`reseed_sampling` first.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def stream_seed(seed: int, stream: str) -> int:
    """A non-negative 63-bit seed for ``stream``, derived from ``seed`` (independent streams per sampler)."""
    state = np.random.SeedSequence([int(seed) & (2**63 - 1), zlib.crc32(stream.encode())]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def reseed_sampling(seed: int, *samplers: object) -> None:
    """Seed torch's global generator and each sampler's own (its ``reseed(seed)``, where it has one)."""
    torch.manual_seed(stream_seed(seed, "torch.global"))
    for sampler in samplers:
        reseed = getattr(sampler, "reseed", None)
        if callable(reseed):
            reseed(seed)
