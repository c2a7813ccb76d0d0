"""`GET /metrics` (token-protected when TRIAGE_METRICS_TOKEN is set) and request timing.

Requests are labelled by route template (`/api/tickets/{ticket_id}`), never by raw path,
so the number of series stays fixed whatever URLs callers try.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.errors import error_response
from bot.metrics.process import ProcessMetrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def authorised(header: str, token: str | None) -> bool:
    """No token configured: open. Otherwise `Authorization: Bearer <token>`, compared in
    constant time."""
    if token is None:
        return True
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def metrics_endpoint(registry: CollectorRegistry, token: str | None) -> Any:
    """The Prometheus text exposition of `registry`; database reads run off the event loop."""

    async def metrics(request: Request) -> Response:
        if not authorised(request.headers.get("authorization", ""), token):
            return error_response("Send TRIAGE_METRICS_TOKEN as `Authorization: Bearer …`.", 401)
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template of the route that takes `scope` (a wrong method still names it)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match != Match.NONE and isinstance(route, Route):
            return route.path
    return UNMATCHED


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: ProcessMetrics, routes: Sequence[BaseRoute]):
        self.app, self._metrics, self._routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app says otherwise before failing

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            matched = scope.get("route")  # Starlette's router notes the route it chose
            route = (
                matched.path if isinstance(matched, Route) else route_template(self._routes, scope)
            )
            method = scope["method"] if scope["method"] in METHODS else "other"
            self._metrics.http_latency.labels(route, method).observe(time.perf_counter() - started)
            self._metrics.http_requests.labels(route, method, str(status)).inc()
