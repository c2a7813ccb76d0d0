"""A fake Slack Web API on loopback so the real slack_sdk clients can be tested offline."""

from __future__ import annotations

import copy
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar

from .blockkit import blocks_problem, fallback_problem, view_problem
from .records import Fault, RecordedCall
from .socket_mode import SocketConnection, SocketModeServer, disconnect, envelope
from .transport import Handler, bearer_token, parse_request
from .waiting import wait_until
from .workspace import Workspace

if TYPE_CHECKING:
    from .page import Page

T = TypeVar("T")
RESPONSE_URL = "response_url"
CALLBACK = "callback"  # a caller's own webhook (ticket callback_url): not Slack, never checked
APP_TOKEN = "xapp-1-A0001-1-test"
CONNECTIONS_OPEN = "apps.connections.open"
_DEFAULT_ERRORS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}
# Bodies that are messages: Slack checks their blocks, and so does the fake.
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", RESPONSE_URL)
VIEW_METHODS = ("views.open", "views.push", "views.update", "views.publish")


class FakeSlack:
    """Threaded HTTP server speaking Slack's Web API and response_url protocol."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("xoxb-test",),
        app_tokens: Iterable[str] = (APP_TOKEN,),
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        app_id: str = "A0001",
        users: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
        team_name: str = "Fake Team",
        strict_channels: bool = False,
        real_time: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tokens = set(tokens)
        self.app_tokens = set(app_tokens)
        self.workspace = Workspace(
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            team_id=team_id,
            team_name=team_name,
            users=users,
            channels=channels,
            strict_channels=strict_channels,
            real_time=real_time,
        )
        self._address = (host, port)
        self._cond = threading.Condition(threading.RLock())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.socket_mode = SocketModeServer(self._cond, host=host, app_id=app_id)
        self.page: Page | None = None  # the browser page, when this fake plays Slack for people
        self._reset_records()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Bind and serve in a background thread; returns self for chaining."""
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._stopping = False
        server = ThreadingHTTPServer(self._address, Handler)
        server.daemon_threads = False  # so server_close() joins handler threads: no leaks
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"FakeSlack:{self.port}",
        )
        self._thread.start()
        try:
            self.socket_mode.start()
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and close the socket and all handler threads."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self.release()  # a held request would keep its handler thread, and stop(), waiting
        with self._cond:  # and so would a page waiting for news
            self._stopping = True
            self._cond.notify_all()
        self.socket_mode.stop()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Port the server was bound to (port 0 asks the OS for a free one)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as slack_sdk's base_url (it must end with a slash)."""
        return f"{self.url}/api/"

    # -- configuration and faults ------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, responses, faults and workspace state; keep running."""
        with self._cond:
            self.release()
            self._reset_records()
            self.workspace.reset()

    def _reset_records(self) -> None:
        """Start the recorded history and the fault queue from scratch."""
        self.calls: list[RecordedCall] = []
        self.responses: list[tuple[str, Any]] = []
        self.callbacks: list[tuple[str, Any]] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._down = False
        self._flaky: tuple[float, int, random.Random] | None = None
        self._response_targets: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._response_ids = itertools.count(1)
        self._callback_ids: set[str] = set()
        self._holds: dict[str, threading.Event] = {}
        # (method, reason) of every message Slack would refuse or show without fallback text;
        # the fake_slack fixture fails the test when any is left at the end.
        self.message_problems: list[tuple[str, str]] = []
        self.held: list[str] = []  # methods of requests that arrived while held, in order

    def fail_next(
        self,
        method: str,
        status: int | None = None,
        *,
        error: str | None = None,
        retry_after: int | str = 1,
        retry_after_header: str = "Retry-After",
        count: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next `count` calls of `method` fail (429 by default; "*" for any method).

        status=429 answers with Retry-After (any value, under any spelling of the header
        name: HTTP/2 proxies send it lower-case); status=5xx answers that status; error="x"
        with no status answers HTTP 200 {"ok": false, "error": "x"}. Use "response_url" and
        "callback" for those hooks. `headers` are added to the answer (a 302's Location, a
        503's Retry-After).
        """
        if status is None:
            status = 200 if error else 429
        fault = Fault(
            status=status,
            error=error or _DEFAULT_ERRORS.get(status, "fatal_error"),
            retry_after=retry_after if status == 429 else None,
            retry_after_header=retry_after_header,
            remaining=count,
            headers=dict(headers or {}),
        )
        with self._cond:
            self._faults.setdefault(method, deque()).append(fault)

    def set_down(self, down: bool = True) -> None:
        """Simulate an outage: every request (API and response_url) answers 503."""
        with self._cond:
            self._down = down

    def set_flaky(self, share: float, *, status: int = 503, seed: int = 0) -> None:
        """Fail a random `share` of Web API calls with `status`, as a Slack having a bad day
        does (the load benchmark's "Slack failing 30% of calls"); 0 makes it healthy again.
        Draws come from `seed`, so a run can be repeated."""
        with self._cond:
            self._flaky = (share, status, random.Random(seed)) if share > 0 else None

    def hold(self, method: str) -> None:
        """Leave calls of `method` unanswered until `release`: Slack slow mid-request."""
        with self._cond:
            self._holds.setdefault(method, threading.Event())

    def release(self, method: str | None = None) -> None:
        """Answer the held calls of `method` (of every held method by default)."""
        with self._cond:
            names = list(self._holds) if method is None else [method]
            for name in names:
                gate = self._holds.pop(name, None)
                if gate is not None:
                    gate.set()

    def new_response_url(
        self, channel: str | None = None, message_ts: str | None = None, user: str | None = None
    ) -> str:
        """Hand out a response_url on this server; with channel/ts it edits that message, and
        with a user its private answers are shown to that person."""
        with self._cond:
            url_id = f"R{next(self._response_ids):04d}"
            self._response_targets[url_id] = (channel, message_ts, user)
        return f"{self.url}/response/{url_id}"

    # -- the page's side -----------------------------------------------------------------------

    @contextmanager
    def changing(self) -> Iterator[Workspace]:
        """Change the workspace under the lock; pages waiting for news wake up."""
        with self._cond:
            yield self.workspace
            self.workspace.version += 1
            self._cond.notify_all()

    @contextmanager
    def reading(self) -> Iterator[Workspace]:
        """Read the workspace under the lock, without waking anyone."""
        with self._cond:
            yield self.workspace

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until the workspace version passes `after` (or timeout, or stop); return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.workspace.version <= after and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.workspace.version

    def new_callback_url(self) -> str:
        """Hand out a plain JSON webhook on this server, standing in for a caller's own."""
        with self._cond:
            url_id = f"H{len(self._callback_ids) + 1:04d}"
            self._callback_ids.add(url_id)
        return f"{self.url}/callback/{url_id}"

    # -- inspection ----------------------------------------------------------------------------

    def calls_to(self, method: str, *, include_faulty: bool = True) -> list[RecordedCall]:
        """Recorded calls of one method, oldest first."""
        with self._cond:
            return [
                c for c in self.calls if c.method == method and (include_faulty or not c.faulty)
            ]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current state of posted messages (updates applied), oldest first."""
        with self._cond:
            return self.workspace.messages(channel)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Params of every successful chat.postEphemeral, oldest first."""
        with self._cond:
            return copy.deepcopy(self.workspace.ephemerals)

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        """Last App Home view published per user."""
        with self._cond:
            return copy.deepcopy(self.workspace.home_views)

    def wait_until(
        self, condition: Callable[[], T], timeout: float = 15.0, what: str = "condition"
    ) -> T:
        """Block until condition() is truthy (re-checked on every request) or fail clearly."""
        return wait_until(
            condition, timeout=timeout, what=what, lock=self._cond, describe=self.describe_calls
        )

    def wait_for(
        self,
        predicate_or_method: str | Callable[[RecordedCall], bool],
        count: int = 1,
        timeout: float = 15.0,
        *,
        include_faulty: bool = False,
    ) -> list[RecordedCall]:
        """Wait for `count` calls of a method (or matching a predicate); returns them."""
        matches: Callable[[RecordedCall], bool]
        if isinstance(predicate_or_method, str):
            name = predicate_or_method
            matches = lambda call: call.method == name  # noqa: E731
            what = f"{count} x {name}"
        else:
            matches = predicate_or_method
            what = f"{count} call(s) matching {getattr(matches, '__name__', matches)!s}"

        def found() -> list[RecordedCall]:
            hits = [c for c in self.calls if (include_faulty or not c.faulty) and matches(c)]
            return hits if len(hits) >= count else []

        return self.wait_until(found, timeout, what)

    def wait_for_response(
        self, count: int = 1, timeout: float = 15.0, url: str | None = None
    ) -> list[Any]:
        """Wait for `count` JSON bodies POSTed to response_urls (optionally one url/id)."""
        return self._wait_bodies(self.responses, count, timeout, url, "response_url")

    def wait_for_callback(
        self, count: int = 1, timeout: float = 15.0, url: str | None = None
    ) -> list[Any]:
        """Wait for `count` JSON bodies POSTed to callback urls (optionally one url)."""
        return self._wait_bodies(self.callbacks, count, timeout, url, "callback")

    def _wait_bodies(
        self, records: list[tuple[str, Any]], count: int, timeout: float, url: str | None, what: str
    ) -> list[Any]:
        url_id = url.rstrip("/").rsplit("/", 1)[-1] if url else None

        def found() -> list[Any]:
            hits = [b for i, b in records if url_id in (None, i)]
            return hits if len(hits) >= count else []

        return self.wait_until(found, timeout, f"{count} {what} POST(s)")

    def describe_calls(self) -> str:
        """One line per recorded call, for assertion messages."""
        with self._cond:
            if not self.calls:
                return "no calls seen"
            lines = [
                f"  {c.method} -> {c.status} {c.response.get('error', 'ok')}"
                f"{' (injected)' if c.faulty else ''}"
                for c in self.calls
            ]
        return "calls seen:\n" + "\n".join(lines)

    # -- Socket Mode -------------------------------------------------------------------------

    @property
    def socket_connections(self) -> list[SocketConnection]:
        """Every WebSocket apps opened, oldest first, as a snapshot."""
        with self._cond:
            return copy.deepcopy(self.socket_mode.connections)

    def wait_for_socket(self, count: int = 1, timeout: float = 15.0) -> list[SocketConnection]:
        """Wait until `count` Socket Mode connections are open (and greeted); returns them."""

        def opened() -> list[SocketConnection]:
            found = [c for c in self.socket_mode.connections if c.open]
            return copy.deepcopy(found) if len(found) >= count else []

        return self.wait_until(opened, timeout, f"{count} open Socket Mode connection(s)")

    def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 15.0,
    ) -> str:
        """Push a request to the app as Slack does over Socket Mode; returns its envelope_id.

        `kind` is "slash_commands", "interactive" or "events_api"; the envelope goes to the
        newest open connection, waiting for one if the app has not connected yet.
        """
        message = envelope(kind, payload, accepts_response_payload=accepts_response_payload)
        newest = self.wait_for_socket(timeout=timeout)[-1]
        self.socket_mode.send(newest, message)
        return str(message["envelope_id"])

    def wait_for_ack(self, envelope_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """Wait for the app's acknowledgement of one envelope ({"envelope_id", "payload"?})."""

        def acked() -> dict[str, Any]:
            for connection in self.socket_mode.connections:
                for message in connection.received:
                    if message.get("envelope_id") == envelope_id:
                        return copy.deepcopy(message)
            return {}

        return self.wait_until(acked, timeout, f"the ack of envelope {envelope_id}")

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Warn the newest connection that Slack will close it, so the app reconnects."""
        newest = self.wait_for_socket()[-1]
        self.socket_mode.send(newest, disconnect(reason))

    # -- request handling (called from server threads) ---------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        """Pop one pending fault for this method (or the wildcard)."""
        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                return fault
        return None

    def _handle(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Route one request, record it and produce (status, JSON body, extra headers)."""
        route = path.split("?", 1)[0]
        try:
            params = parse_request(path, headers, raw)
        except ValueError:
            return 400, {"ok": False, "error": "invalid_json"}, {}
        if route.startswith("/api/"):
            method = route[len("/api/") :]
        elif route.startswith("/response/"):
            method = RESPONSE_URL
        elif route.startswith("/callback/"):
            method = CALLBACK
        else:
            return 404, {"ok": False, "error": "not_found"}, {}
        with self._cond:
            gate = self._holds.get(method)
            if gate is not None:
                self.held.append(method)
                self._cond.notify_all()
        if gate is not None:
            gate.wait(timeout=30)
        with self._cond:
            status, body, extra, faulty = self._answer(method, route, params, headers)
            self.calls.append(
                RecordedCall(method, params, headers, time.time(), status, body, faulty, raw)
            )
            if not (status == 200 and body.get("ok")) and method != CALLBACK:
                self._note_refusal(method, route, params, body)
            self.workspace.version += 1
            self._cond.notify_all()
        return status, body, extra

    def _note_refusal(
        self, method: str, route: str, params: dict[str, Any], body: dict[str, Any]
    ) -> None:
        """Keep a refused call for the page, in the channel it was meant for."""
        message = params.get("_json", params)
        channel = message.get("channel") if isinstance(message, dict) else None
        if method == RESPONSE_URL:
            url_id = route.rsplit("/", 1)[-1]
            channel = self._response_targets.get(url_id, (None, None, None))[0]
        detail = "; ".join(str(e) for e in body.get("errors") or [])
        error = str(body.get("error", "failed"))
        self.workspace.note_problem(method, self.workspace.channel_id(channel), error, detail)

    def _answer(
        self, method: str, route: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str], bool]:
        """Decide the answer: outage, injected fault, auth failure, or the method itself."""
        if self._down and method != CALLBACK:
            return 503, {"ok": False, "error": "service_unavailable"}, {}, True
        if self._flaky is not None and method not in (CALLBACK, RESPONSE_URL, CONNECTIONS_OPEN):
            share, status, draws = self._flaky
            if draws.random() < share:
                error = _DEFAULT_ERRORS.get(status, "fatal_error")
                extra = {"Retry-After": "1"} if status == 429 else {}
                return status, {"ok": False, "error": error}, extra, True
        fault = self._take_fault(method)
        if fault is not None:
            extra = (
                {fault.retry_after_header: str(fault.retry_after)}
                if fault.retry_after is not None
                else {}
            )
            extra.update(fault.headers)
            return fault.status, {"ok": False, "error": fault.error}, extra, True
        refusal = self._check_message(method, params) if method in MESSAGE_METHODS else None
        if method in VIEW_METHODS:
            refusal = self._check_view(method, params)
        if refusal is not None:
            return (*refusal, {}, False)
        if method == RESPONSE_URL:
            return (*self._accept_response(route, params), {}, False)
        if method == CALLBACK:
            return (*self._accept_callback(route, params), {}, False)
        token = bearer_token(headers, params)
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}, False
        if method == CONNECTIONS_OPEN:
            return 200, self._open_connection(token), {}, False
        if token not in self.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, {}, False
        handler = self.workspace.handler(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}, False
        return 200, handler(params), {}, False

    def _check_message(self, method: str, params: dict[str, Any]) -> tuple[int, Any] | None:
        """Refuse a message whose blocks Slack refuses; record every problem either way."""
        message = params.get("_json", params)
        if not isinstance(message, dict) or message.get("delete_original"):
            return None
        blocks = blocks_problem(message)
        problems = [p for p in (blocks, fallback_problem(message)) if p is not None]
        self.message_problems.extend((method, problem) for problem in problems)
        if blocks is None:
            for problem in problems:  # accepted, but Slack warns: show it on the page too
                channel = self.workspace.channel_id(message.get("channel"), create=False)
                self.workspace.note_problem(method, channel, "missing_text", problem)
            return None
        status = 400 if method == RESPONSE_URL else 200  # the Web API says why with HTTP 200
        return status, {"ok": False, "error": "invalid_blocks", "errors": [blocks]}

    def _check_view(self, method: str, params: dict[str, Any]) -> tuple[int, Any] | None:
        """Refuse a modal or Home view Slack refuses, and record why."""
        problem = view_problem(params.get("view"))
        if problem is None:
            return None
        self.message_problems.append((method, problem))
        return 200, {"ok": False, "error": "invalid_arguments", "errors": [problem]}

    def _open_connection(self, token: str) -> dict[str, Any]:
        """apps.connections.open: only an app-level token gets a WebSocket URL."""
        if token in self.tokens:
            return {"ok": False, "error": "not_allowed_token_type"}
        if token not in self.app_tokens:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket_mode.new_url()}

    def _accept_callback(self, route: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record a callback POST as the caller's server would receive it."""
        url_id = route.rsplit("/", 1)[-1]
        if url_id not in self._callback_ids:
            return 404, {"ok": False, "error": "no_such_callback_url"}
        self.callbacks.append((url_id, copy.deepcopy(params.get("_json", params))))
        return 200, {"ok": True}

    def _accept_response(self, route: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record a response_url POST and apply it to the original message, like Slack."""
        url_id = route.rsplit("/", 1)[-1]
        if url_id not in self._response_targets:
            return 404, {"ok": False, "error": "no_such_response_url"}
        body = params.get("_json", params)
        self.responses.append((url_id, copy.deepcopy(body)))
        if isinstance(body, dict):
            channel, ts, user = self._response_targets[url_id]
            self.workspace.apply_response(channel, ts, body, user)
        return 200, {"ok": True}
