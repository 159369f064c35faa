"""The one gradient loop every learning-from-interventions method shares.

Batches of step indices (from a sampler) become (obs history, action chunk) windows through
``EpisodeDataset.window_indices``; the policy's own ``training_loss`` gives the per-sample loss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from hitl_policy.data import EpisodeDataset


def progress_iter(n: int, desc: str, enabled: bool):
    if not enabled:
        return range(n)
    from tqdm.auto import trange

    return trange(n, desc=desc, leave=False, dynamic_ncols=True)


def window_tensors(policy, dataset: EpisodeDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, n_obs, obs_dim) and (N, horizon, act_dim) raw windows, one per step."""
    obs_idx, act_idx = dataset.window_indices(policy.n_obs, policy.horizon)
    return torch.from_numpy(dataset.obs[obs_idx]), torch.from_numpy(dataset.action[act_idx])


def set_train_mode(policy, train: bool) -> None:
    """train()/eval() on the policy's torch modules (dropout, batch norm), whatever holds them."""
    modules = [policy] if isinstance(policy, torch.nn.Module) else [
        v for v in vars(policy).values() if isinstance(v, torch.nn.Module)]
    for m in modules:
        m.train(train)


def train_loop(policy, dataset: EpisodeDataset, sample: Callable[[], np.ndarray | tuple], steps: int,
               lr: float = 1e-4, weight_decay: float = 1e-6, grad_clip: float = 10.0, progress: bool = True,
               desc: str = "train", loss_fn: Callable | None = None, extra_params=(),
               on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Run ``steps`` AdamW steps; returns the per-step mean loss.

    loss_fn(obs, act, idx) -> (B,) overrides ``policy.training_loss`` (MILE uses this); extra_params:
    more tensors to optimize, or param-group dicts (own lr, no weight decay...); after every
    optimizer step the policy's ``after_optimizer_step()`` hook (e.g. an EMA update) runs if it exists.
    """
    obs_w, act_w = window_tensors(policy, dataset)
    groups = [{"params": [p for p in policy.parameters() if p.requires_grad]}]
    for g in extra_params:  # tensors join the main group; dicts are param groups of their own
        if isinstance(g, dict):
            groups.append({**g, "params": [p for p in g["params"] if p.requires_grad]})
        elif g.requires_grad:
            groups[0]["params"].append(g)
    groups = [g for g in groups if g["params"]]
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    hook = getattr(policy, "after_optimizer_step", None)
    losses: list[float] = []
    skipped = 0
    set_train_mode(policy, True)
    bar = progress_iter(steps, desc, progress)
    for step in bar:
        drawn = sample()
        idx = drawn[0] if isinstance(drawn, tuple) else drawn
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        o, a = obs_w[idx_t], act_w[idx_t]
        loss = (loss_fn(o, a, idx) if loss_fn is not None else policy.training_loss(o, a)).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if not torch.isfinite(norm):  # an overflowing gradient would poison the weights: skip the step
            skipped += 1
            if skipped > max(10, steps // 10):
                raise FloatingPointError(f"{desc}: non-finite gradients in {skipped} steps")
            continue
        opt.step()
        if callable(hook):
            hook()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
        if progress and hasattr(bar, "set_postfix") and step % 25 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-25:]):.4f}")
    set_train_mode(policy, False)
    return losses
