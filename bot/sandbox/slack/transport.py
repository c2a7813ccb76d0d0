"""Request parsing and answering for the fake, kept apart from the fake's state."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .page import is_page_route

JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


def _maybe_json(value: Any) -> Any:
    """Decode values slack_sdk sends as JSON strings so tests see real structures."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flatten(query: str) -> dict[str, Any]:
    """Turn a query string into single values, as Slack reads form fields."""
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def parse_request(path: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """Merge query string and body (form or JSON) into one params dict."""
    params = _flatten(urlsplit(path).query)
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        body = json.loads(raw.decode("utf-8") or "{}") if raw else {}
        if isinstance(body, dict):
            params.update(body)
        else:
            params["_json"] = body
    elif raw and ctype in ("", "application/x-www-form-urlencoded"):
        params.update(_flatten(raw.decode("utf-8")))
    elif raw:
        params["_raw"] = raw.decode("utf-8", "replace")
    for key in JSON_FIELDS:
        if key in params:
            params[key] = _maybe_json(params[key])
    return params


def bearer_token(headers: dict[str, str], params: dict[str, Any]) -> str | None:
    """Find the token where Slack looks for it: Authorization header, then a token param."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    token = params.get("token")
    return str(token) if token else None


class Handler(BaseHTTPRequestHandler):
    """Answers one HTTP/1.0 request (one per connection, so stop() never waits on keep-alive)."""

    server_version = "FakeSlack/1.0"
    timeout = 10

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        """Slack accepts POST for every Web API method."""
        self._dispatch()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        """slack_sdk sends some read methods (users.info, conversations.info) as GET."""
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand the request to the page or to the owning FakeSlack, and write the answer."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.server.fake  # type: ignore[attr-defined]
        if fake.page is not None and is_page_route(self.path.split("?", 1)[0]):
            status, content_type, data = fake.page.handle(self.command, self.path, headers, raw)
            extra = {"Cache-Control": "no-store"}
            if status == 302:  # a permalink: the body is where it points
                extra["Location"] = data.decode()
            self._write(status, content_type, data, extra)
            return
        status, body, extra = fake._handle(self.path, headers, raw)
        self._write(status, "application/json; charset=utf-8", json.dumps(body).encode(), extra)

    def _write(self, status: int, content_type: str, data: bytes, extra: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a page closed while it waited for news
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output clean; the fake records calls instead of logging them."""
