"""Deploy-time sampling settings: trade action quality for latency without retraining.

An EBM at the IIFL defaults needs ~126 ms per action on one CPU core (512 samples x 100 Langevin
iterations), more than a 10 Hz tick; a diffusion policy's DDIM step count has the same role.
These settings only change how a loaded policy samples, never its weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# policy kind -> setting -> (type, check, what the check means)
_POSITIVE = (lambda v: v >= 1, "an integer >= 1")
SETTINGS: dict[str, dict[str, tuple[type, Any, str]]] = {
    "ebm": {
        "inference_counter_examples": (int, *_POSITIVE),
        "langevin_iterations": (int, *_POSITIVE),
        "inference_select": (str, lambda v: v in ("argmax", "sample"), "'argmax' or 'sample'"),
    },
    "diffusion": {"num_inference_steps": (int, *_POSITIVE)},
}


def apply_inference_settings(policy, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Set ``settings`` on a loaded policy (ValueError naming what is allowed); returns what was set."""
    kind = getattr(policy, "kind", "?")
    allowed = SETTINGS.get(kind, {})
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"{kind} policy has no inference setting {unknown}; allowed: {sorted(allowed) or 'none'}")
    applied: dict[str, Any] = {}
    for key, raw in settings.items():
        typ, ok, meaning = allowed[key]
        if isinstance(raw, bool) or not isinstance(raw, typ) or not ok(raw):
            raise ValueError(f"inference setting {key} must be {meaning}, got {raw!r}")
        applied[key] = raw
    if kind == "diffusion" and "num_inference_steps" in applied:
        steps, train = applied["num_inference_steps"], int(policy.config["num_train_timesteps"])
        if steps > train:
            raise ValueError(f"num_inference_steps must be <= num_train_timesteps ({train}), got {steps}")
        policy.sample_scheduler.set_timesteps(steps)
    policy.config.update(applied)
    return applied
