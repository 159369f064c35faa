"""hitl_msgs <-> the plain dataclasses of hitl_teleop.arbiter, sim_operator.py and fleet.py.

Imported by the nodes only (needs the built hitl_msgs, never rclpy). Times are float seconds;
a message whose header stamp is zero is stamped with its receipt time.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose

from hitl_msgs.msg import (
    ActionChunk,
    ArmCommand,
    ControlState,
    EpisodeEvent,
    FleetAssignment,
    FleetStatus,
    HelpRequest,
    Observation,
    OperatorAssignment,
    TeleopCommand,
    Uncertainty,
)
from hitl_teleop.arbiter import (
    ActionChunkIn,
    CommandOut,
    ControlStateOut,
    EpisodeEventIn,
    HelpRequestOut,
    ObservationIn,
    TeleopIn,
    UncertaintyIn,
    split_action,
    yaw_to_quat,
)
from hitl_teleop.fleet import Allocation, Assignment, FleetConfig, FleetLedger, RobotRequest
from hitl_teleop.sim_operator import ControlView, OperatorOutput


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    sec = math.floor(t)
    return Time(sec=int(sec), nanosec=min(round((t - sec) * 1e9), 999_999_999))


def _stamp_or(stamp: Time, received: float) -> float:
    return stamp_to_sec(stamp) if (stamp.sec or stamp.nanosec) else received


def pose_position(p: Pose) -> np.ndarray:
    return np.array([p.position.x, p.position.y, p.position.z], float)


def pose_quat(p: Pose) -> np.ndarray:
    o = p.orientation
    return np.array([o.x, o.y, o.z, o.w], float)


def make_pose(position: np.ndarray, quat: np.ndarray | None = None) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    q = np.array([0.0, 0.0, 0.0, 1.0]) if quat is None else quat
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (float(v) for v in q)
    return pose


# ------------------------------------------------------------------------------------- inputs
def observation_in(msg: Observation, n_arms: int, received: float) -> ObservationIn:
    """Observation -> ObservationIn; positions from ee_poses, else from the x/y/z entries of data."""
    if len(msg.ee_poses) >= n_arms:
        pos = np.stack([pose_position(p) for p in msg.ee_poses[:n_arms]])
        quat = np.stack([pose_quat(p) for p in msg.ee_poses[:n_arms]])
    else:
        pos, quat = _positions_from_names(list(msg.names), np.asarray(msg.data, float), n_arms), None
    grip = np.asarray(msg.gripper, float)[:n_arms] if len(msg.gripper) >= n_arms else None
    return ObservationIn(
        _stamp_or(msg.header.stamp, received), pos, grip, quat, int(msg.episode), int(msg.step)
    )


def _positions_from_names(names: list[str], data: np.ndarray, n_arms: int) -> np.ndarray:
    prefixes = [""] if n_arms == 1 else ["left_", "right_"]
    try:
        return np.array([[data[names.index(p + c)] for c in "xyz"] for p in prefixes], float)
    except ValueError as exc:
        raise ValueError(f"observation has no ee_poses and no x/y/z entries in names: {exc}") from exc


def chunk_in(msg: ActionChunk, received: float) -> ActionChunkIn:
    actions = np.asarray(msg.actions, float)
    dim = int(msg.action_dim) or (actions.size // max(int(msg.horizon), 1))
    if dim <= 0 or actions.size % dim:
        actions = np.full((1, max(dim, 1)), np.nan)  # malformed: the arbiter rejects and counts it
    else:
        actions = actions.reshape(-1, dim)
    return ActionChunkIn(
        _stamp_or(msg.header.stamp, received),
        actions,
        int(msg.n_execute) or 1,
        float(msg.dt) if msg.dt > 0 else 0.1,
        stamp_to_sec(msg.observation_stamp),
    )


def uncertainty_in(msg: Uncertainty, received: float) -> UncertaintyIn:
    return UncertaintyIn(
        _stamp_or(msg.header.stamp, received),
        float(msg.score),
        float(msg.threshold) if msg.threshold >= 0 else None,  # negative: unset; 0 is legal
    )


def teleop_in(msg: TeleopCommand, received: float) -> TeleopIn:
    lin, ang = msg.delta.linear, msg.delta.angular
    return TeleopIn(
        stamp=_stamp_or(msg.header.stamp, received),
        operator_id=msg.operator_id or msg.device,
        engaged=bool(msg.engaged),
        take_over=bool(msg.take_over),
        pause=bool(msg.pause),
        reset=bool(msg.reset),
        mode=int(msg.mode),
        position=pose_position(msg.pose),
        orientation=pose_quat(msg.pose),
        delta_linear=np.array([lin.x, lin.y, lin.z]),
        delta_angular=np.array([ang.x, ang.y, ang.z]),
        arm_index=int(msg.arm_index),
        gripper=float(msg.gripper),
        device=msg.device,
    )


def episode_event_in(msg: EpisodeEvent, received: float) -> EpisodeEventIn:
    return EpisodeEventIn(
        _stamp_or(msg.header.stamp, received),
        int(msg.episode),
        int(msg.event),
        bool(msg.success),
        bool(msg.failed),
    )


def control_view(msg: ControlState) -> ControlView:
    return ControlView(int(msg.source), bool(msg.help_requested), int(msg.episode), msg.operator_id)


def robot_request(msg: HelpRequest) -> RobotRequest:
    return RobotRequest(
        msg.robot_id, float(msg.priority), msg.reason == HelpRequest.REASON_HARD_RESET, bool(msg.active)
    )


# ------------------------------------------------------------------------------------ outputs
def arm_command_msg(cmd: CommandOut, t: float, frame_id: str) -> ArmCommand:
    msg = ArmCommand()
    msg.header.stamp = sec_to_stamp(t)
    msg.header.frame_id = frame_id
    msg.source = int(cmd.source)
    msg.hold = bool(cmd.hold)
    msg.targets = [make_pose(p, q) for p, q in zip(cmd.positions, cmd.orientations)]
    msg.gripper = [float(g) for g in cmd.gripper]
    return msg


def control_state_msg(s: ControlStateOut, t: float, frame_id: str) -> ControlState:
    msg = ControlState()
    msg.header.stamp = sec_to_stamp(t)
    msg.header.frame_id = frame_id
    msg.source, msg.reason, msg.reason_text = int(s.source), int(s.reason), s.reason_text
    msg.robot_id, msg.operator_id = s.robot_id, s.operator_id
    msg.episode, msg.step = int(s.episode), int(s.step)
    msg.holding, msg.help_requested = bool(s.holding), bool(s.help_requested)
    msg.uncertainty, msg.threshold = float(s.uncertainty), float(s.threshold)
    msg.intervention_elapsed = float(s.intervention_elapsed)
    msg.rejected_commands, msg.clamped_commands = int(s.rejected_commands), int(s.clamped_commands)
    return msg


def help_request_msg(h: HelpRequestOut, t: float) -> HelpRequest:
    msg = HelpRequest()
    msg.header.stamp = sec_to_stamp(t)
    msg.robot_id, msg.active = h.robot_id, bool(h.active)
    msg.priority, msg.uncertainty, msg.reason = float(h.priority), float(h.uncertainty), int(h.reason)
    return msg


def teleop_msgs(
    out: OperatorOutput, n_arms: int, operator_id: str, t: float, frame_id: str
) -> list[TeleopCommand]:
    """One MODE_ABSOLUTE TeleopCommand per end effector (a single one, pose unset, while idle)."""
    parts = split_action(out.action, n_arms) if out.action is not None else None
    msgs = []
    for arm in range(n_arms if parts is not None else 1):
        msg = TeleopCommand()
        msg.header.stamp = sec_to_stamp(t)
        msg.header.frame_id = frame_id
        msg.device, msg.operator_id = "sim_operator", operator_id
        msg.engaged, msg.take_over = bool(out.engaged), bool(out.take_over)
        msg.mode = TeleopCommand.MODE_ABSOLUTE
        msg.arm_index = arm
        if parts is not None:
            quat = yaw_to_quat(parts.yaw)[arm] if parts.yaw is not None else None
            msg.pose = make_pose(parts.positions[arm], quat)
            msg.gripper = float(parts.gripper[arm]) if parts.gripper is not None else 0.0
        msgs.append(msg)
    return msgs


def fleet_assignment_msg(
    assignments: list[Assignment], released: list[Assignment], waiting: list[str], t: float, min_duration_of
) -> FleetAssignment:
    """FleetAssignment with the current assignments (assigned=true) and this update's releases (false)."""
    msg = FleetAssignment()
    msg.header.stamp = sec_to_stamp(t)
    for a, assigned in [(a, True) for a in assignments] + [(a, False) for a in released]:
        oa = OperatorAssignment()
        oa.header.stamp = sec_to_stamp(a.start)
        oa.operator_id, oa.robot_id, oa.assigned = a.operator_id, a.robot_id, assigned
        oa.min_duration, oa.priority = float(min_duration_of(a)), float(a.priority)
        msg.assignments.append(oa)
    msg.waiting_robots = list(waiting)
    return msg


def fleet_status_msg(alloc: Allocation, requests: dict[str, RobotRequest], ledger: FleetLedger, cfg: FleetConfig,
                     t: float) -> FleetStatus:
    """FleetStatus: assignments, idle and away operators, the queue (priority order) with waiting times, totals."""
    msg = FleetStatus()
    msg.header.stamp = sec_to_stamp(t)
    for a in alloc.assignments:
        oa = OperatorAssignment()
        oa.header.stamp = sec_to_stamp(a.start)
        oa.operator_id, oa.robot_id, oa.assigned = a.operator_id, a.robot_id, True
        oa.min_duration, oa.priority = float(a.min_duration(cfg)), float(a.priority)
        msg.assignments.append(oa)
    msg.operators_idle = alloc.idle(cfg.operator_ids)
    msg.operators_away = list(alloc.away)
    msg.queue_robots = list(alloc.waiting)
    msg.queue_priorities = [float(requests[r].priority) if r in requests else 0.0 for r in alloc.waiting]
    msg.queue_hard_reset = [bool(requests[r].hard_reset) if r in requests else False for r in alloc.waiting]
    msg.queue_waiting_s = [float(ledger.waiting_s(r, t)) for r in alloc.waiting]
    msg.successes, msg.hard_resets = int(ledger.successes), int(ledger.hard_resets)
    msg.handovers = sum(1 for h in ledger.handovers if h.started)
    msg.human_s, msg.rohe = float(ledger.human_s), float(ledger.rohe())
    return msg
