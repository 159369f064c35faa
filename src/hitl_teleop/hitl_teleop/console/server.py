"""HTTP + WebSocket server of the console (``websockets``' asyncio server, in its own thread).

GET / serves the page (console/static/console.html); /ws is the WebSocket: the server pushes the
state (at most ``max_rate_hz``, at once after a change), the page sends requests (JSON, see
ConsoleController.handle). Security (docs/console.md): binds 127.0.0.1 unless ``allow_remote``;
another address needs a token; with tokens set every request (page and socket) must carry one
(``?token=`` or ``Authorization: Bearer``); the token names the operator; a WebSocket whose Origin
is not this server is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import threading
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hitl_teleop.console.controller import ConsoleController
from hitl_teleop.console.session import RefusedError


class ConsoleConfigError(ValueError):
    """Unsafe or invalid server settings (one line)."""


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def parse_tokens(token: str, operators: str, default_operator: str) -> dict[str, str]:
    """token -> operator id: ``token`` is the default operator's; ``operators`` adds
    'alice=TOKEN_A,bob=TOKEN_B'."""
    out: dict[str, str] = {}
    if token:
        out[token] = default_operator
    for item in filter(None, (x.strip() for x in operators.split(","))):
        name, sep, tok = item.partition("=")
        if not sep or not name.strip() or not tok.strip():
            raise ConsoleConfigError(f"operators entry {item!r}: expected name=token")
        out[tok.strip()] = name.strip()
    for tok in out:
        if len(tok) < 8:
            raise ConsoleConfigError("console tokens must have at least 8 characters")
    return out


def page_html() -> bytes:
    return resources.files("hitl_teleop.console").joinpath("static/console.html").read_bytes()


class ConsoleServer:
    def __init__(self, controller: ConsoleController, address: str = "127.0.0.1", port: int = 8080,
                 tokens: dict[str, str] | None = None, default_operator: str = "operator_0",
                 allow_remote: bool = False, max_rate_hz: float = 20.0, log=print) -> None:
        self.controller = controller
        self.address, self.port = address, int(port)
        self.tokens = dict(tokens or {})
        self.default_operator = default_operator
        self.min_period = 1.0 / max(1.0, float(max_rate_hz))
        self.log = log
        if not is_loopback(address):
            if not allow_remote:
                raise ConsoleConfigError(f"address {address!r} is not loopback: set allow_remote:=true "
                                         "(and a token) to serve other hosts")
            if not self.tokens:
                raise ConsoleConfigError(f"address {address!r} needs a token (token:=... or operators:=...)")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._clients: dict[Any, str] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Future | None = None
        self._error: BaseException | None = None
        self.page = page_html()

    # ---------------------------------------------------------------------------- auth
    def operator_for(self, request: Any) -> str | None:
        """The operator a request authenticates as, or None (refused)."""
        if not self.tokens:
            return self.default_operator
        query = parse_qs(urlsplit(request.path).query)
        given = (query.get("token") or [""])[0]
        auth = request.headers.get("Authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        for tok, op in self.tokens.items():
            if given and hmac.compare_digest(given.encode(), tok.encode()):
                return op
        return None

    def _process_request(self, connection: Any, request: Any) -> Any:
        path = urlsplit(request.path).path
        op = self.operator_for(request)
        if op is None:
            self.log(f"console: refused {path} from {connection.remote_address[0]}: missing or wrong token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "console: missing or wrong token\n")
        if path == "/ws":
            origin = request.headers.get("Origin")
            host = request.headers.get("Host", "")
            if origin is not None and urlsplit(origin).netloc != host:
                self.log(f"console: refused WebSocket from origin {origin!r} (host {host!r})")
                return connection.respond(HTTPStatus.FORBIDDEN, "console: cross-origin WebSocket refused\n")
            return None  # go on with the WebSocket handshake
        if path in ("/", "/index.html"):
            response = connection.respond(HTTPStatus.OK, "")
            response.body = self.page
            for name, value in (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(self.page))),
                                ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")):
                if name in response.headers:  # Headers is a multi-dict: replace, do not add
                    del response.headers[name]
                response.headers[name] = value
            return response
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    # ------------------------------------------------------------------------ sockets
    async def _handler(self, ws: Any) -> None:
        op = self.operator_for(ws.request) or self.default_operator
        self._clients[ws] = op
        self.controller.connect(op)
        self.log(f"console: operator {op} connected from {ws.remote_address[0]}")
        try:
            await self._send_state(ws, op)
            async for raw in ws:
                try:
                    request = json.loads(raw)
                    if not isinstance(request, dict):
                        raise RefusedError("request must be a JSON object")
                    ack = self.controller.handle(op, request)
                    if request.get("type") != "input":
                        await ws.send(json.dumps({"type": "ack", "text": ack, "id": request.get("id")}))
                except (RefusedError, ValueError, TypeError) as exc:
                    await ws.send(json.dumps({"type": "error", "text": str(exc), "id": None}))
        except Exception as exc:  # connection closed abruptly: same as a close
            if type(exc).__name__ not in ("ConnectionClosedError", "ConnectionClosedOK"):
                self.log(f"console: connection of {op} ended: {type(exc).__name__}: {exc}")
        finally:
            self._clients.pop(ws, None)
            self.controller.disconnect(op)
            self.log(f"console: operator {op} disconnected")

    async def _send_state(self, ws: Any, op: str) -> None:
        snap = self.controller.state.snapshot()
        snap.update(type="state", you=self.controller.whoami(op))
        await ws.send(json.dumps(snap, allow_nan=False, default=float))

    async def _broadcast(self) -> None:
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.5)
            self._changed.clear()
            t0 = loop.time()
            for ws, op in list(self._clients.items()):
                with contextlib.suppress(Exception):  # closed meanwhile: its handler cleans up
                    await self._send_state(ws, op)
            await asyncio.sleep(max(0.0, self.min_period - (loop.time() - t0)))

    def notify(self) -> None:
        """Thread-safe: the state changed (called from ROS callbacks)."""
        loop, ev = self._loop, self._changed
        if loop is not None and ev is not None and not loop.is_closed():
            loop.call_soon_threadsafe(ev.set)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._stop = self._loop.create_future()
        async with serve(self._handler, self.address, self.port, process_request=self._process_request,
                         max_size=1 << 16, ping_interval=5, ping_timeout=5) as server:
            sock = next(iter(server.sockets))
            self.port = sock.getsockname()[1]
            self._ready.set()
            task = asyncio.create_task(self._broadcast())
            await self._stop
            task.cancel()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # bind failure etc.: reported by start()
            self._error = exc
            self._ready.set()

    def start(self, timeout: float = 10.0) -> int:
        """Start serving in a thread; returns the port (useful with port 0)."""
        self.controller.state.on_change = self.notify
        self._thread = threading.Thread(target=self._run, name="console-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("console server did not start")
        if self._error is not None:
            raise ConsoleConfigError(f"cannot serve on {self.address}:{self.port}: {self._error}")
        return self.port

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))
        if self._thread is not None:
            self._thread.join(timeout=5)
