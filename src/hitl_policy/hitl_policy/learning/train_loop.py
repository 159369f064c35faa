"""The one gradient loop of the project: every model's ``fit`` and every learning-from-interventions
method run their optimizer steps through :func:`optimize`.

``optimize`` owns what all of them share (train/eval mode, zero_grad / backward / optional clipping /
step, a per-step learning rate or scheduler, non-finite checks, progress, the loss record); the
caller supplies the batch and the loss of each step. :func:`train_loop` is the policy-agnostic use:
batches of step indices (from a sampler) become (obs history, action chunk) windows through
``EpisodeDataset.window_indices`` and the policy's own ``training_loss`` gives the per-sample loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from hitl_core.data import EpisodeDataset


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


def optimize(step_loss: Callable[[int], torch.Tensor], optimizer: torch.optim.Optimizer, steps: int, *,
             modules: Iterable = (), clip_params: Iterable[torch.Tensor] = (), grad_clip: float | None = None,
             lr_at: Callable[[int], float] | None = None, after_step: Callable[[], None] | None = None,
             members: int = 1, on_step: Callable[[int, float], None] | None = None,
             progress: bool = True, desc: str = "train") -> list[float]:
    """Run ``steps`` optimizer steps on ``step_loss(step)`` (a scalar); returns the recorded losses.

    modules: put in train mode for the loop, eval mode after (anything :func:`set_train_mode` takes).
    grad_clip: clip the norm of ``clip_params``' gradients; a step whose norm is not finite is skipped
    (too many: FloatingPointError). lr_at(step): the learning rate of every param group for that step.
    after_step: runs after every optimizer step (a scheduler, an EMA update, a step counter).
    members: the loss sums this many independent ensemble members: the recorded loss is their mean.
    """
    clip_params = list(clip_params)
    losses: list[float] = []
    skipped = 0
    for m in modules:
        set_train_mode(m, True)
    bar = progress_iter(steps, desc, progress)
    for step in bar:
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        loss = step_loss(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: non-finite loss at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(clip_params, grad_clip)
            if not torch.isfinite(norm):  # an overflowing gradient would poison the weights: skip the step
                skipped += 1
                if skipped > max(10, steps // 10):
                    raise FloatingPointError(f"{desc}: non-finite gradients in {skipped} steps")
                continue
        optimizer.step()
        if after_step is not None:
            after_step()
        losses.append(float(loss.detach()) / members)
        if on_step is not None:
            on_step(step, losses[-1])
        if progress and hasattr(bar, "set_postfix") and step % 25 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-25:]):.4f}")
    for m in modules:
        set_train_mode(m, False)
    return losses


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
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    hook = getattr(policy, "after_optimizer_step", None)

    def step_loss(step: int) -> torch.Tensor:
        drawn = sample()
        idx = drawn[0] if isinstance(drawn, tuple) else drawn
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        o, a = obs_w[idx_t], act_w[idx_t]
        return (loss_fn(o, a, idx) if loss_fn is not None else policy.training_loss(o, a)).mean()

    return optimize(step_loss, opt, steps, modules=[policy], clip_params=[p for g in groups for p in g["params"]],
                    grad_clip=grad_clip, after_step=hook if callable(hook) else None, on_step=on_step,
                    progress=progress, desc=desc)
