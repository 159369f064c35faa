"""One operator at the console: which robot it may drive, and its TeleopSamples (pure, no rclpy).

Rules (docs/console.md):
- An operator drives one robot at a time: the one it took over on this console, else the one the
  fleet allocator assigned to it, else (no fleet allocator seen) a robot asking for help that no
  other operator drives. Input naming another robot is refused.
- Taking over a robot the fleet allocator assigned to another operator, or one another console
  operator drives, is refused.
- Input goes through the PS3 pad's JoyMapper: motion only while the deadman (Space / L2) is held;
  releasing it zeroes motion on the same sample, and the arbiter holds the arm (deadman released).
- Input older than ``input_timeout_s`` counts as released (a closed tab or a frozen browser); a
  disconnected operator publishes nothing, so the arbiter's device watchdog holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hitl_teleop.console.mapping import PS3_AXES, PS3_BUTTONS, keys_to_ps3, merge, standard_gamepad_to_ps3
from hitl_teleop.devices.common import TeleopSample
from hitl_teleop.devices.joy import JoyMap, JoyMapper

DEVICE = "console"


class RefusedError(ValueError):
    """An operator asked for something it may not do (one line, shown on its page)."""


@dataclass
class SessionConfig:
    operator_id: str
    frame_id: str = ""
    input_timeout_s: float = 0.5
    handback_linger_s: float = 0.5    # keep publishing take_over=False this long after a hand-back
    joy_map: str = "ps3"


@dataclass
class Session:
    """Input state of one operator (all times in seconds of the caller's clock)."""

    config: SessionConfig
    taken_over: str | None = None          # robot this operator took over here
    handed_back: tuple[str, float] | None = None
    keys: set[str] = field(default_factory=set)
    pad_axes: list[float] = field(default_factory=list)
    pad_buttons: list[float] = field(default_factory=list)
    last_input: float = -1e9
    input_robot: str | None = None
    pending_pause: bool = False
    pending_reset: bool = False
    mapper: JoyMapper = field(init=False)

    def __post_init__(self) -> None:
        jm = JoyMap.load(self.config.joy_map)
        jm.operator_id, jm.frame_id = self.config.operator_id, self.config.frame_id
        self.mapper = JoyMapper(jm)

    @property
    def operator_id(self) -> str:
        return self.config.operator_id

    # --------------------------------------------------------------------- authorization
    def target(self, assignments: dict[str, str], fleet: bool, open_robots: list[str],
               driven_by_others: set[str]) -> str | None:
        """The robot this operator drives now (None: none). ``open_robots``: robots asking for help or
        already driven by this operator (ControlState), used when no fleet allocator runs."""
        if self.taken_over:
            return self.taken_over
        mine = [r for r, op in assignments.items() if op == self.operator_id]
        if mine:
            return sorted(mine)[0]
        if not fleet:
            free = [r for r in open_robots if r not in driven_by_others]
            if self.input_robot in free:
                return self.input_robot
        return None

    def take_over(self, robot: str, assignments: dict[str, str], driven_by_others: set[str]) -> None:
        owner = assignments.get(robot)
        if owner and owner != self.operator_id:
            raise RefusedError(f"{robot} is assigned to {owner} by the fleet allocator")
        if robot in driven_by_others:
            raise RefusedError(f"{robot} is driven by another operator")
        if self.taken_over and self.taken_over != robot:
            raise RefusedError(f"hand back {self.taken_over} first")
        self.taken_over, self.handed_back = robot, None

    def hand_back(self, now: float) -> str | None:
        robot, self.taken_over = self.taken_over, None
        if robot:
            self.handed_back = (robot, now)
        return robot

    # ---------------------------------------------------------------------------- input
    def set_input(self, robot: str | None, keys: list[str], axes: list[float], buttons: list[float],
                  now: float) -> None:
        self.input_robot = robot
        self.keys = {str(k).lower() for k in keys}
        self.pad_axes, self.pad_buttons = list(axes), list(buttons)
        self.last_input = now

    def release_all(self) -> None:
        self.keys, self.pad_axes, self.pad_buttons = set(), [], []

    def sample(self, robot: str, now: float) -> TeleopSample:
        """The TeleopSample to publish to ``robot`` now (device 'console', this operator's id)."""
        if now - self.last_input > self.config.input_timeout_s:
            self.release_all()
        pads = [keys_to_ps3(self.keys)]
        if self.pad_axes or self.pad_buttons:
            pads.append(standard_gamepad_to_ps3(self.pad_axes, self.pad_buttons))
        axes, buttons = merge(*pads)
        s = self.mapper.update(axes[:PS3_AXES], buttons[:PS3_BUTTONS], now)
        s.device = DEVICE
        s.take_over = bool(s.take_over or self.taken_over == robot)
        s.pause = bool(s.pause or self.pending_pause)
        s.reset = bool(s.reset or self.pending_reset)
        self.pending_pause = self.pending_reset = False
        return s

    def released_sample(self, now: float) -> TeleopSample:
        """Nothing held, no take-over: what a robot just handed back receives."""
        return TeleopSample(stamp=now, device=DEVICE, operator_id=self.operator_id, frame_id=self.config.frame_id)

    def publish_targets(self, target: str | None, now: float) -> list[str]:
        """Robots to publish a sample to this tick: the target, and a robot just handed back (so the
        arbiter sees take_over go false) for ``handback_linger_s``."""
        out = [target] if target else []
        if self.handed_back:
            robot, t = self.handed_back
            if now - t <= self.config.handback_linger_s:
                if robot not in out:
                    out.append(robot)
            else:
                self.handed_back = None
        return out
