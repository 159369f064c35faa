"""Holds on top of POLICY and HUMAN: stale inputs, a released deadman, an invalid command
(docs/arbiter.md, Watchdogs). A hold keeps the source; its cause is the reason published."""

from __future__ import annotations

from dataclasses import dataclass

from hitl_teleop.arbiter.config import ArbiterConfig
from hitl_teleop.arbiter.types import ActionChunkIn, ControlSource, ObservationIn, Reason, TeleopIn


@dataclass(frozen=True)
class Hold:
    """The arm is held. ``cause`` is a watchdog reason, or None when the mode itself holds
    (AWAITING_HELP, PAUSED, RESET: the mode's reason is published)."""

    cause: Reason | None
    text: str


@dataclass
class LatestInputs:
    """The freshest input of each kind, and whether the freshest chunk / teleop sample was valid."""

    observation: ObservationIn | None = None
    chunk: ActionChunkIn | None = None
    chunk_invalid: bool = False
    teleop: TeleopIn | None = None
    teleop_invalid: bool = False

    def observation_fresh(self, now: float, config: ArbiterConfig) -> bool:
        return self.observation is not None and now - self.observation.stamp <= config.observation_timeout_s

    def teleop_fresh(self, now: float, config: ArbiterConfig) -> bool:
        return self.teleop is not None and now - self.teleop.stamp <= config.device_timeout_s


def _stale(cause: Reason, what: str, stamp: float | None, now: float, timeout_s: float) -> Hold | None:
    """A hold when the freshest ``what`` is missing or older than ``timeout_s``."""
    if stamp is None:
        return Hold(cause, f"no {what} received yet")
    age = now - stamp
    if age > timeout_s:
        return Hold(cause, f"{what} {age * 1e3:.0f} ms old (> {timeout_s * 1e3:.0f})")
    return None


def _first_silent(stale: list[tuple[Hold, float | None]]) -> Hold:
    """Of the stale inputs (hold, stamp of the freshest sample; None: none yet), the one that went
    silent first: the root cause. A policy waits on observations, so when observations stop the
    chunks stop after them and STALE_OBSERVATION is named; a policy killed seconds before the
    observations lag (a loaded machine) is named STALE_POLICY. Ties keep the list's order (sorted is
    stable). The other stale inputs are appended to the text."""
    ordered = sorted(stale, key=lambda hs: float("-inf") if hs[1] is None else hs[1])
    first, others = ordered[0][0], "; ".join(h.text for h, _ in ordered[1:])
    return Hold(first.cause, f"{first.text}; also {others}" if others else first.text)


def watchdog_hold(source: ControlSource, inputs: LatestInputs, now: float, config: ArbiterConfig,
                  conflict: str = "") -> Hold | None:
    """The hold due now for ``source`` (None: none). Only POLICY and HUMAN are watched, except a
    ``conflict`` (another commander of this arm, found by the node), which holds in every source.
    Several stale inputs: the one silent longest is the reason (``_first_silent``)."""
    if conflict:
        return Hold(Reason.INVALID_COMMAND, conflict)
    if source not in (ControlSource.POLICY, ControlSource.HUMAN):
        return None
    obs, chunk, t = inputs.observation, inputs.chunk, inputs.teleop
    watched = [(Reason.STALE_OBSERVATION, "observation", obs and obs.stamp, config.observation_timeout_s)]
    if source == ControlSource.POLICY:
        watched.append((Reason.STALE_POLICY, "action chunk", chunk and chunk.stamp, config.policy_timeout_s))
    else:
        watched.append((Reason.STALE_DEVICE, "teleop command", t and t.stamp, config.device_timeout_s))
    stale = [(hold, stamp) for cause, what, stamp, timeout in watched
             if (hold := _stale(cause, what, stamp, now, timeout)) is not None]
    if stale:
        return _first_silent(stale)
    if source == ControlSource.POLICY:
        if inputs.chunk_invalid:
            return Hold(Reason.INVALID_COMMAND, "policy action rejected (NaN/inf or malformed): holding")
        return None
    if config.require_deadman and not t.engaged:
        return Hold(Reason.DEADMAN_RELEASED, "deadman released: holding")
    if inputs.teleop_invalid:
        return Hold(Reason.INVALID_COMMAND, "teleop command rejected (NaN/inf): holding")
    return None
