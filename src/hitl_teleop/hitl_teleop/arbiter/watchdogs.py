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


def watchdog_hold(source: ControlSource, inputs: LatestInputs, now: float, config: ArbiterConfig) -> Hold | None:
    """The hold due now for ``source`` (None: none). Only POLICY and HUMAN are watched."""
    if source not in (ControlSource.POLICY, ControlSource.HUMAN):
        return None
    obs = inputs.observation
    if obs is None:
        return Hold(Reason.STALE_OBSERVATION, "no observation received yet")
    age = now - obs.stamp
    if age > config.observation_timeout_s:
        return Hold(
            Reason.STALE_OBSERVATION,
            f"observation {age * 1e3:.0f} ms old (> {config.observation_timeout_s * 1e3:.0f})",
        )
    if source == ControlSource.POLICY:
        if inputs.chunk is None:
            return Hold(Reason.STALE_POLICY, "no action chunk received yet")
        age = now - inputs.chunk.stamp
        if age > config.policy_timeout_s:
            return Hold(
                Reason.STALE_POLICY, f"action chunk {age * 1e3:.0f} ms old (> {config.policy_timeout_s * 1e3:.0f})"
            )
        if inputs.chunk_invalid:
            return Hold(Reason.INVALID_COMMAND, "policy action rejected (NaN/inf or malformed): holding")
        return None
    t = inputs.teleop
    if t is None:
        return Hold(Reason.STALE_DEVICE, "no teleop command received yet")
    age = now - t.stamp
    if age > config.device_timeout_s:
        return Hold(Reason.STALE_DEVICE, f"teleop {age * 1e3:.0f} ms old (> {config.device_timeout_s * 1e3:.0f})")
    if config.require_deadman and not t.engaged:
        return Hold(Reason.DEADMAN_RELEASED, "deadman released: holding")
    if inputs.teleop_invalid:
        return Hold(Reason.INVALID_COMMAND, "teleop command rejected (NaN/inf): holding")
    return None
