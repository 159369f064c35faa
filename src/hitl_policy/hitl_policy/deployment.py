"""A checkpoint loaded for deployment (policy and uncertainty nodes): the policy with its deploy-time
sampling settings, and the names of its action dimensions."""

from __future__ import annotations

import numpy as np


def checkpoint_action_names(path: str, act_dim: int) -> list[str]:
    """Action names stored with the checkpoint (meta/action_names), else the simulator's layout."""
    from hitl_policy.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    places = [payload.get("extra", {}), payload.get("config", {}), payload.get("state", {})]
    for place in places:
        if not isinstance(place, dict):
            continue
        for cand in (place.get("meta"), place):
            if isinstance(cand, dict) and isinstance(cand.get("action_names"), (list, tuple)):
                names = [str(n) for n in cand["action_names"]]
                if len(names) == act_dim:
                    return names
    from hitl_policy.chunking import default_action_names

    return default_action_names(act_dim)


def load_policy_on(path: str, device: str, seed: int, threads: int, inference: dict | None = None):
    """Load a checkpoint for inference (one-line error on a bad file), with deploy-time sampling
    settings (hitl_policy.inference_settings)."""
    import torch

    from hitl_policy.inference_settings import apply_inference_settings
    from hitl_policy.registry import load_policy

    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    policy = load_policy(path)
    apply_inference_settings(policy, inference or {})
    if device != "cpu" and hasattr(policy, "to"):
        policy.to(device)
    return policy
