"""Which robot an operator's real teleop device drives in a fleet (pure logic of teleop_router_node).

A device node (keyboard, SpaceMouse, joy, trakSTAR) publishes ``teleop`` in its operator's namespace
and knows nothing of robots. The router follows the fleet allocator's ``/fleet/assignments``: every
device sample goes to the robot the operator is assigned to now, stamped with the operator's id; while
the operator has no robot the samples are dropped (counted). On a change of robot the previous robot
gets one released sample first (nothing held, nothing engaged), so its arbiter does not wait for a
deadman release that will never come; the watchdogs would hold it anyway, later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def robots_in(assignments: Iterable[str], waiting: Iterable[str]) -> list[str]:
    """Every robot an allocator message names (assigned ones and those waiting for an operator): the
    robots this operator may be handed next. A device node makes its teleop publisher for each of them
    before the hand-over, because DDS hears a new publisher only once discovery has matched it (seconds
    on a loaded machine, in which time the allocator counts the silent operator as absent)."""
    return sorted({r.strip("/") for r in (*assignments, *waiting) if r.strip("/")})


@dataclass
class RouteChange:
    released: str | None  # the robot that was driven until now (gets one released sample)
    assigned: str | None  # the robot driven from now on (None: no robot, samples dropped)


@dataclass
class TeleopRouter:
    operator_id: str
    robot: str | None = None
    forwarded: dict[str, int] = field(default_factory=dict)  # samples per robot
    dropped: int = 0  # samples while unassigned

    def on_assignments(self, assignments: Iterable[tuple[str, str, bool]]) -> RouteChange | None:
        """``assignments``: (operator_id, robot_id, assigned) of the allocator's latest message (all of
        them: a robot absent from it is no longer this operator's). Returns the change, or None."""
        mine = sorted(robot for op, robot, assigned in assignments if assigned and op == self.operator_id)
        robot = mine[0] if mine else None
        if robot == self.robot:
            return None
        change = RouteChange(released=self.robot, assigned=robot)
        self.robot = robot
        return change

    def route(self) -> str | None:
        """The robot a device sample goes to now (counted), or None (dropped, counted)."""
        if self.robot is None:
            self.dropped += 1
        else:
            self.forwarded[self.robot] = self.forwarded.get(self.robot, 0) + 1
        return self.robot
