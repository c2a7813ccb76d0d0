"""An HTTP hop in front of the fake Slack that holds or drops calls to chosen Web API methods.

Point SLACK_API_URL at it to rehearse a Slack that answers one method slowly (held until the
test releases it, so no test waits on a clock) or drops the connection without answering.
Every other call goes through to the fake unchanged.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until

HOLD_LIMIT = 30.0  # a held call is let through after this, so a failing test cannot hang


class SlackProxy:
    """Forwards /api/* to the fake; `hold` and `drop` change how one method is answered."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self._held: dict[str, threading.Event] = {}
        self._dropped: set[str] = set()
        self._cond = threading.Condition()
        self.arrived: list[str] = []
        self.answered: list[tuple[str, float]] = []  # (method, time.monotonic() of the answer)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SlackProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for event in self._held.values():
            event.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def hold(self, method: str) -> threading.Event:
        """Keep calls of `method` waiting until the returned event is set."""
        self._held[method] = threading.Event()
        return self._held[method]

    def drop(self, method: str) -> None:
        """Close the connection of every call of `method` without an answer."""
        self._dropped.add(method)

    def in_flight(self, method: str) -> int:
        """Calls of `method` that arrived and have not been answered yet."""
        with self._cond:
            done = sum(1 for name, _ in self.answered if name == method)
            return self.arrived.count(method) - done

    def wait_answered(self, method: str, count: int = 1, timeout: float = 15.0) -> None:
        """Block until `count` calls of `method` were answered (or dropped)."""
        wait_until(
            lambda: sum(1 for name, _ in self.answered if name == method) >= count,
            timeout=timeout,
            what=f"{count} answered {method}",
            lock=self._cond,
        )

    def _record(self, kind: str, method: str) -> None:
        with self._cond:
            if kind == "arrived":
                self.arrived.append(method)
            else:
                self.answered.append((method, time.monotonic()))
            self._cond.notify_all()

    def _forward(self, handler: _Handler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=15)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._relay()

    def do_GET(self) -> None:  # noqa: N802
        self._relay()

    def _relay(self) -> None:
        proxy: SlackProxy = self.server.proxy
        method = self.path.split("?", 1)[0].removeprefix("/api/")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        proxy._record("arrived", method)
        try:
            if method in proxy._held:
                proxy._held[method].wait(HOLD_LIMIT)
            if method in proxy._dropped:
                self.close_connection = True
                return
            status, headers, answer = proxy._forward(self, body)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        finally:
            proxy._record("answered", method)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return
