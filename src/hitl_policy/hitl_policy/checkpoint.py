"""Checkpoint files: torch state + config + normalizers + a format version, validated on load.

Every failure to load is a :class:`CheckpointError` whose message is one line naming the file and
the problem (missing, truncated/corrupt, wrong format version, wrong kind, missing keys).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1
MAGIC = "hitl-checkpoint"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt or does not match what the caller expects."""


def save_checkpoint(path: str | Path, kind: str, config: dict, state: dict[str, Any], **extra: Any) -> Path:
    """Write atomically (temp file + rename), so a crash mid-save never leaves a broken checkpoint.

    kind: "diffusion", "ebm", "ensemble", ... ; config: JSON-like constructor arguments;
    state: tensors / state_dicts / normalizer dicts; extra: anything else JSON-like (training stats).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"magic": MAGIC, "format_version": FORMAT_VERSION, "kind": kind, "config": config,
               "state": state, "extra": extra}
    buf = io.BytesIO()
    torch.save(payload, buf)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load and validate; ``kind`` (if given) must match the stored kind."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint is empty (0 bytes)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt zips
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({first[:160]})") from exc
    if not isinstance(payload, dict) or payload.get("magic") != MAGIC:
        raise CheckpointError(f"{path}: not a hitl checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload.get('format_version')}, this code reads {FORMAT_VERSION}")
    for key in ("kind", "config", "state"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    if kind is not None and payload["kind"] != kind:
        raise CheckpointError(f"{path}: checkpoint holds a {payload['kind']!r} policy, expected {kind!r}")
    return payload
