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


def watchdog_hold(source: ControlSource, inputs: LatestInputs, now: float, config: ArbiterConfig,
                  conflict: str = "") -> Hold | None:
    """The hold due now for ``source`` (None: none). Only POLICY and HUMAN are watched, except a
    ``conflict`` (another commander of this arm, found by the node), which holds in every source."""
    if conflict:
        return Hold(Reason.INVALID_COMMAND, conflict)
    if source not in (ControlSource.POLICY, ControlSource.HUMAN):
        return None
    obs, chunk, t = inputs.observation, inputs.chunk, inputs.teleop
    hold = _stale(Reason.STALE_OBSERVATION, "observation", obs and obs.stamp, now, config.observation_timeout_s)
    if hold is not None:
        return hold
    if source == ControlSource.POLICY:
        hold = _stale(Reason.STALE_POLICY, "action chunk", chunk and chunk.stamp, now, config.policy_timeout_s)
        if hold is None and inputs.chunk_invalid:
            hold = Hold(Reason.INVALID_COMMAND, "policy action rejected (NaN/inf or malformed): holding")
        return hold
    hold = _stale(Reason.STALE_DEVICE, "teleop command", t and t.stamp, now, config.device_timeout_s)
    if hold is None and config.require_deadman and not t.engaged:
        hold = Hold(Reason.DEADMAN_RELEASED, "deadman released: holding")
    if hold is None and inputs.teleop_invalid:
        hold = Hold(Reason.INVALID_COMMAND, "teleop command rejected (NaN/inf): holding")
    return hold
