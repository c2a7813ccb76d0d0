"""Slack's Socket Mode on loopback: the WebSocket that apps.connections.open URLs point to.

Runs aiohttp's server on its own event loop in a background thread. Like Slack it greets each
connection with `hello`, pushes envelopes to the newest open connection and records what the
app sends back (the acks), so tests can drive a real slack_sdk SocketModeClient.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

LINK_PATH = "/link/"
START_TIMEOUT = 10.0


@dataclass
class SocketConnection:
    """One WebSocket an app opened with a ticket from apps.connections.open."""

    id: int
    ticket: str
    open: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)


class SocketModeServer:
    """The fake's WebSocket endpoint; its state is guarded by the owning FakeSlack's lock."""

    def __init__(self, cond: threading.Condition, *, host: str, app_id: str) -> None:
        self._cond = cond
        self._host = host
        self._app_id = app_id
        self._ids = itertools.count(1)
        self._tickets: set[str] = set()
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self.connections: list[SocketConnection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle (called from the test thread) ----------------------------------------------

    def start(self) -> None:
        """Serve on a free loopback port; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve(ready, failure),),
            daemon=True,
            name="FakeSlack:socket-mode",
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT) or failure:
            self.stop()
            cause = failure[0] if failure else None
            raise RuntimeError("the Socket Mode server did not start") from cause

    def stop(self) -> None:
        """Close every WebSocket (code 1001, as Slack does on a redeploy) and the server."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        self._thread = None
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(timeout=10)

    @property
    def port(self) -> int:
        return self._port

    def new_url(self) -> str:
        """A fresh WebSocket URL, as apps.connections.open returns (call under the lock)."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return f"ws://{self._host}:{self._port}{LINK_PATH}?ticket={ticket}"

    def send(self, connection: SocketConnection, message: dict[str, Any]) -> None:
        """Push one JSON message to the app over `connection` (never call under the lock)."""
        with self._cond:
            socket, loop = self._sockets.get(connection.id), self._loop
        if socket is None or loop is None:
            raise AssertionError(f"socket connection {connection.id} is not open")
        data = json.dumps(message)
        asyncio.run_coroutine_threadsafe(socket.send_str(data), loop).result(timeout=5)

    # -- the server (runs on its own event loop) ---------------------------------------------

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get(LINK_PATH, self._link)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        try:
            await runner.setup()
            await web.TCPSite(runner, self._host, 0).start()
            self._port = int(runner.addresses[0][1])
        except OSError as error:
            failure.append(error)
            await runner.cleanup()
            return
        finally:
            ready.set()
        try:
            await self._stopping.wait()
        finally:
            for socket in list(self._sockets.values()):
                await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            await runner.cleanup()

    async def _link(self, request: web.Request) -> web.StreamResponse:
        """One app connection: check the ticket, say hello, record every message until close."""
        ticket = request.query.get("ticket", "")
        with self._cond:
            known = ticket in self._tickets
        if not known:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        socket = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await socket.prepare(request)
        with self._cond:
            connection = SocketConnection(next(self._ids), ticket)
            self._sockets[connection.id] = socket
            hello = self._hello(open_count=sum(c.open for c in self.connections) + 1)
        await socket.send_str(json.dumps(hello))
        with self._cond:  # visible to tests only once greeted, so envelopes follow the hello
            self.connections.append(connection)
            self._cond.notify_all()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                with self._cond:
                    connection.received.append(json.loads(message.data))
                    self._cond.notify_all()
        finally:
            with self._cond:
                connection.open = False
                self._sockets.pop(connection.id, None)
                self._cond.notify_all()
        return socket

    def _hello(self, *, open_count: int) -> dict[str, Any]:
        """Slack's greeting on every new Socket Mode connection."""
        return {
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }


def envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    accepts_response_payload: bool = False,
    envelope_id: str | None = None,
) -> dict[str, Any]:
    """A Socket Mode envelope as Slack sends it: slash_commands, interactive or events_api."""
    message: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": kind,
        "accepts_response_payload": accepts_response_payload,
    }
    if kind == "events_api":
        message.update(retry_attempt=0, retry_reason="")
    return message


def disconnect(reason: str = "refresh_requested") -> dict[str, Any]:
    """Slack's warning that it is about to close the connection; the app should reconnect."""
    return {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
