"""Operator console without ROS or a browser: input mapping, deadman and authorization rules, and the
HTTP + WebSocket server's token / origin checks (a real server on a free port, a websockets client)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from hitl_teleop.console.controller import ConsoleController
from hitl_teleop.console.mapping import keys_to_ps3, standard_gamepad_to_ps3
from hitl_teleop.console.server import ConsoleConfigError, ConsoleServer, parse_tokens
from hitl_teleop.console.session import RefusedError
from hitl_teleop.console.state import ConsoleState

pytest.importorskip("websockets")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(robots=("robot_0", "robot_1")):
    clock = Clock()
    state = ConsoleState(list(robots), clock=clock)
    sent: list[tuple[str, object]] = []
    ctl = ConsoleController(state, lambda r, s: sent.append((r, s)), clock)
    return clock, state, ctl, sent


def control(state, robot, source=0, help_requested=False, operator=""):
    state.on_control(robot, source=source, reason=1 if help_requested else 0, reason_text="", operator_id=operator,
                     episode=1, step=0, holding=False, help_requested=help_requested, uncertainty=0.0,
                     threshold=0.5)


def test_browser_inputs_map_to_the_ps3_layout():
    axes, buttons = standard_gamepad_to_ps3([0.0, -1.0, 0.5, 0.0], [0] * 6 + [1.0] + [0] * 9)
    assert axes == [-0.0, 1.0, -0.5, -0.0]           # stick up = +x, stick right = -yaw (PS3 signs)
    assert buttons[8] == 1 and sum(buttons) == 1     # L2 (standard 6) = the PS3 deadman (8)
    axes, buttons = keys_to_ps3([" ", "w", "a", "d", "t", "Shift"])
    assert axes[1] == 1.0 and axes[0] == 0.0         # a and d cancel
    assert buttons[8] == buttons[11] == buttons[10] == 1
    assert standard_gamepad_to_ps3([float("nan")], [])[0] == [-0.0, -0.0, -0.0, -0.0]


def test_take_over_hold_to_drive_release_holds_and_disconnect_stops():
    clock, _state, ctl, sent = make()
    ctl.connect("alice")
    ctl.tick()
    assert sent == []                                # nothing taken over, nothing asked: nothing sent
    ctl.handle("alice", {"type": "take_over", "robot": "robot_0"})
    robot, s = sent[-1]
    assert robot == "robot_0" and s.take_over and not s.engaged and s.device == "console"
    assert s.operator_id == "alice"
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "keys": [" ", "w"]})
    for _ in range(3):
        clock.t += 0.05
        ctl.tick()
    s = sent[-1][1]
    assert s.engaged and s.delta_linear[0] == pytest.approx(0.10 * 0.05)   # ps3 linear_speed x dt
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "keys": ["w"]})  # deadman released
    clock.t += 0.05
    ctl.tick()
    s = sent[-1][1]
    assert not s.engaged and not s.moving() and s.take_over
    # input that stops arriving counts as released after input_timeout_s
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "keys": [" ", "w"]})
    clock.t += 0.6
    ctl.tick()
    assert not sent[-1][1].engaged
    # gamepad: L2 + left stick up
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "axes": [0, -1, 0, 0],
                         "buttons": [0] * 6 + [1] + [0] * 9})
    clock.t += 0.05
    ctl.tick()
    assert sent[-1][1].engaged and sent[-1][1].delta_linear[0] > 0
    # the page closes: nothing more is published (the arbiter's device watchdog holds)
    ctl.disconnect("alice")
    n = len(sent)
    clock.t += 0.05
    ctl.tick()
    assert len(sent) == n
    # hand back: take_over false is published (release edge), then nothing
    ctl.connect("alice")
    ctl.handle("alice", {"type": "hand_back"})
    assert sent[-1][0] == "robot_0" and not sent[-1][1].take_over
    clock.t += 1.0
    n = len(sent)
    ctl.tick()
    assert len(sent) == n


def test_pause_and_reset_are_one_sample_edges():
    clock, _state, ctl, sent = make()
    ctl.connect("alice")
    ctl.handle("alice", {"type": "take_over", "robot": "robot_0"})
    ctl.handle("alice", {"type": "pause", "robot": "robot_0"})
    assert sent[-1][1].pause and not sent[-1][1].reset
    clock.t += 0.05
    ctl.tick()
    assert not sent[-1][1].pause
    ctl.handle("alice", {"type": "reset", "robot": "robot_0"})
    assert sent[-1][1].reset


def test_operators_drive_only_their_robot():
    clock, state, ctl, sent = make(("robot_0", "robot_1", "robot_2"))
    ctl.connect("alice")
    ctl.connect("bob")
    state.on_fleet({"robot_1": "bob"}, ["robot_0"])
    with pytest.raises(RefusedError, match="assigned to bob"):
        ctl.handle("alice", {"type": "take_over", "robot": "robot_1"})
    with pytest.raises(RefusedError, match="alice may not drive robot_1"):
        ctl.handle("alice", {"type": "input", "robot": "robot_1", "keys": [" ", "w"]})
    with pytest.raises(RefusedError, match="may not pause robot_1"):
        ctl.handle("alice", {"type": "pause", "robot": "robot_1"})
    with pytest.raises(RefusedError, match="unknown robot"):
        ctl.handle("alice", {"type": "take_over", "robot": "robot_7"})
    assert ctl.target("bob") == "robot_1" and ctl.target("alice") is None
    ctl.handle("alice", {"type": "take_over", "robot": "robot_0"})
    with pytest.raises(RefusedError, match="driven by another operator"):
        ctl.handle("bob", {"type": "take_over", "robot": "robot_0"})
    with pytest.raises(RefusedError, match="hand back robot_0 first"):
        ctl.handle("alice", {"type": "take_over", "robot": "robot_2"})
    sent.clear()
    clock.t += 0.05
    ctl.tick()
    assert sorted((r, s.operator_id) for r, s in sent) == [("robot_0", "alice"), ("robot_1", "bob")]


def test_without_a_fleet_a_help_request_invites_any_operator():
    clock, state, ctl, sent = make()
    ctl.connect("alice")
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "keys": []})
    assert ctl.target("alice") is None
    control(state, "robot_0", source=2, help_requested=True)
    assert ctl.target("alice") == "robot_0"
    ctl.handle("alice", {"type": "input", "robot": "robot_0", "keys": [" "]})
    clock.t += 0.05
    ctl.tick()
    assert sent[-1][0] == "robot_0" and sent[-1][1].engaged and not sent[-1][1].take_over
    control(state, "robot_0", source=1, operator="alice")       # the arbiter: alice answered
    assert ctl.target("alice") == "robot_0"
    control(state, "robot_0", source=0)                         # back to the policy
    assert ctl.target("alice") is None


def test_state_keeps_one_minute_of_scores_and_counts_episodes():
    clock, state, _ctl, _sent = make(("robot_0",))
    for _ in range(70):
        state.on_uncertainty("robot_0", 0.1, 0.5)
        clock.t += 1.0
    snap = state.snapshot()["robots"][0]
    assert 59 <= len(snap["scores"]) <= 61 and snap["scores"][-1][0] == pytest.approx(-1.0)
    state.on_episode_event("robot_0", episode=1, event=1, success=True, failed=False)
    state.on_episode_event("robot_0", episode=2, event=1, success=False, failed=False)
    snap = state.snapshot()["robots"][0]
    assert (snap["episodes_ended"], snap["successes"], snap["failures"]) == (2, 1, 1)
    json.dumps(state.snapshot(), allow_nan=False)


def test_server_settings_are_safe_by_default():
    _c, _s, ctl, _sent = make()
    with pytest.raises(ConsoleConfigError, match="allow_remote"):
        ConsoleServer(ctl, address="0.0.0.0", port=0, tokens={"long-enough-token": "a"})
    with pytest.raises(ConsoleConfigError, match="needs a token"):
        ConsoleServer(ctl, address="0.0.0.0", port=0, allow_remote=True)
    with pytest.raises(ConsoleConfigError, match="at least 8"):
        parse_tokens("short", "", "alice")
    assert parse_tokens("token-of-alice", "bob=token-of-bob", "alice") == {"token-of-alice": "alice",
                                                                          "token-of-bob": "bob"}


@pytest.fixture
def server():
    _c, state, ctl, sent = make(("robot_0",))
    srv = ConsoleServer(ctl, port=0, tokens={"token-of-alice": "alice", "token-of-bob": "bob"}, log=lambda _t: None)
    port = srv.start()
    yield port, state, ctl, sent
    srv.stop()


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_tokens_are_required_and_name_the_operator(server):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    port, state, _ctl, sent = server
    base = f"http://127.0.0.1:{port}"
    assert get(base + "/")[0] == 401
    assert get(base + "/?token=wrong-token-xx")[0] == 401
    status, body = get(base + "/?token=token-of-alice")
    assert status == 200 and b"hitl operator console" in body
    assert get(base + "/", {"Authorization": "Bearer token-of-bob"})[0] == 200
    assert get(base + "/nope?token=token-of-bob")[0] == 404
    with pytest.raises(InvalidStatus, match="401"):
        connect(f"ws://127.0.0.1:{port}/ws?token=wrong-token-xx")
    with pytest.raises(InvalidStatus, match="403"):
        connect(f"ws://127.0.0.1:{port}/ws?token=token-of-bob", origin="http://evil.example")
    with connect(f"ws://127.0.0.1:{port}/ws?token=token-of-bob") as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "state" and first["you"]["operator_id"] == "bob"
        t0 = time.monotonic()
        control(state, "robot_0", source=2, help_requested=True)
        while True:
            msg = json.loads(ws.recv(timeout=5))
            if msg["type"] == "state" and msg["robots"][0]["control"].get("help_requested"):
                break
        assert time.monotonic() - t0 < 0.5          # pushed on change, not on a slow poll
        ws.send(json.dumps({"type": "take_over", "robot": "robot_0"}))
        while (msg := json.loads(ws.recv(timeout=5)))["type"] == "state":
            pass
        assert msg == {"type": "ack", "text": "took over robot_0", "id": None}
        assert sent[-1][1].operator_id == "bob" and sent[-1][1].take_over
        ws.send("not json")
        while (msg := json.loads(ws.recv(timeout=5)))["type"] == "state":
            pass
        assert msg["type"] == "error"
    assert np.isfinite(sent[-1][1].gripper)


def test_camera_image_becomes_a_jpeg():
    cv2 = pytest.importorskip("cv2")
    import base64
    from types import SimpleNamespace

    from hitl_teleop.console.views import image_jpeg_b64

    pix = np.zeros((48, 64, 3), np.uint8)
    pix[:, :, 0] = 200                                        # red in rgb8
    msg = SimpleNamespace(encoding="rgb8", height=48, width=64, step=64 * 3, data=pix.tobytes())
    img = cv2.imdecode(np.frombuffer(base64.b64decode(image_jpeg_b64(msg)), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (48, 64, 3) and abs(int(img[..., 2].mean()) - 200) < 6 and img[..., 0].mean() < 6
    with pytest.raises(ValueError, match="16UC1"):
        image_jpeg_b64(SimpleNamespace(encoding="16UC1", height=1, width=1, step=2, data=b"\0\0"))
