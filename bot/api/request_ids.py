"""A request id on every log line a request causes, in its response header and error body.

The id comes from the caller's `X-Request-Id` (load balancers and platform routers set one)
when it is a sensible token, or is made here; either way it is echoed back, so a caller
quoting it in a bug report leads straight to the lines.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.logs import REQUEST_ID

HEADER = "X-Request-Id"
# UUIDs, hex ids, and platform trace ids such as `Root=1-5759e988-bd862e3fe1be46a994272793`.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:=/+-]{1,128}")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a plain token of at most 128 characters, else a new one."""
    if value is not None and _ACCEPTED.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled here, if any."""
    return REQUEST_ID.get()


class RequestIds:
    """ASGI middleware: set the request id for the request's context and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None
        )
        request_id = request_id_from(given)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
