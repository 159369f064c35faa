"""Episode and step counters of a real arm for observation_bridge_node (pure Python; the bridge module
re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpisodeEventOut:
    kind: str  # "start" | "end" | "reset"
    episode: int
    steps: int
    note: str = ""


class Episodes:
    """Episode and step counters of a real arm (mirrors sim_arm_node; outcomes are not detected).

    ``step`` counts the observations published in the episode (0 at its start). ``max_steps`` > 0 ends
    an episode with note "timeout"; the next starts on ``start_episode`` (the scene is reset by a person).
    """

    def __init__(self, max_steps: int = 0) -> None:
        self.max_steps = int(max_steps)
        self.episode = 0
        self.step = 0
        self.running = False

    def start(self) -> list[EpisodeEventOut]:
        events = self.end("ended by start_episode") if self.running else []
        self.episode += 1
        self.step = 0
        self.running = True
        return [*events, EpisodeEventOut("start", self.episode, 0)]

    def end(self, note: str) -> list[EpisodeEventOut]:
        if not self.running:
            return []
        self.running = False
        return [EpisodeEventOut("end", self.episode, self.step, note)]

    def reset(self, hard: bool) -> list[EpisodeEventOut]:
        events = self.end("reset (hard)" if hard else "reset")
        events.append(EpisodeEventOut("reset", self.episode, self.step, "hard" if hard else "soft"))
        return events + self.start()

    def published(self) -> list[EpisodeEventOut]:
        """Call after each published observation: advances the step; may end the episode (timeout)."""
        if not self.running:
            return []
        self.step += 1
        if self.max_steps > 0 and self.step >= self.max_steps:
            return self.end("timeout")
        return []
