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


def _first_silent(stale: list[tuple[Hold, float | None]]) -> Hold | None:
    """Of the stale inputs (hold, stamp of the freshest sample), the one that went silent first:
    the root cause. A policy waits on observations, so when observations stop the chunks stop
    after them and STALE_OBSERVATION is named; a policy killed seconds before the observations
    lag (a loaded machine) is named STALE_POLICY. Ties (both missing) keep the list's order. The
    other stale inputs are appended to the text."""
    if not stale:
        return None
    order = sorted(range(len(stale)), key=lambda i: (float("-inf") if stale[i][1] is None else stale[i][1], i))
    first = stale[order[0]][0]
    others = "; ".join(stale[i][0].text for i in order[1:])
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
    obs_stamp = obs and obs.stamp
    stale: list[tuple[Hold, float | None]] = []
    hold = _stale(Reason.STALE_OBSERVATION, "observation", obs_stamp, now, config.observation_timeout_s)
    if hold is not None:
        stale.append((hold, obs_stamp))
    if source == ControlSource.POLICY:
        chunk_stamp = chunk and chunk.stamp
        hold = _stale(Reason.STALE_POLICY, "action chunk", chunk_stamp, now, config.policy_timeout_s)
        if hold is not None:
            stale.append((hold, chunk_stamp))
        if stale:
            return _first_silent(stale)
        if inputs.chunk_invalid:
            return Hold(Reason.INVALID_COMMAND, "policy action rejected (NaN/inf or malformed): holding")
        return None
    t_stamp = t and t.stamp
    hold = _stale(Reason.STALE_DEVICE, "teleop command", t_stamp, now, config.device_timeout_s)
    if hold is not None:
        stale.append((hold, t_stamp))
    if stale:
        return _first_silent(stale)
    if config.require_deadman and not t.engaged:
        return Hold(Reason.DEADMAN_RELEASED, "deadman released: holding")
    if inputs.teleop_invalid:
        return Hold(Reason.INVALID_COMMAND, "teleop command rejected (NaN/inf): holding")
    return None
