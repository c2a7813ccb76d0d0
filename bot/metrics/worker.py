"""The worker's own `/metrics`: its Slack calls and its heartbeat, on TRIAGE_WORKER_METRICS_PORT.

The worker has no web framework, so a small threaded WSGI server from the standard library
serves prometheus-client's WSGI app, behind the same bearer-token check as the web's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from bot.metrics.http import authorised
from storage.database import unit_of_work
from storage.queries.heartbeats import heartbeat_of

log = logging.getLogger(__name__)


class OwnHeartbeat(Collector):
    """This worker's heartbeat as the database has it: leading or not, and how fresh."""

    def __init__(
        self, factory: sessionmaker[Session], holder: str, *, now: Callable[[], datetime]
    ) -> None:
        self._factory, self._holder, self._now = factory, holder, now

    def collect(self) -> Iterator[Metric]:
        try:
            with unit_of_work(self._factory) as session:
                row = heartbeat_of(self._holder, session=session)
                leading = bool(row and row.leading)
                age = None if row is None else (self._now() - row.beat_at).total_seconds()
        except Exception:  # noqa: BLE001 - the scrape still answers; the age says it all
            log.warning("metrics: database unreachable", exc_info=True)
            leading, age = False, None
        yield GaugeMetricFamily(
            "triage_worker_leading", "1 while this worker leads.", value=float(leading)
        )
        if age is not None:
            yield GaugeMetricFamily(
                "triage_worker_heartbeat_age_seconds",
                "Seconds since this worker's last heartbeat in the database.",
                value=max(0.0, age),
            )


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Scrapes every few seconds would flood stderr with lines that are not JSON."""


def serve_metrics(
    registry: CollectorRegistry, *, host: str, port: int, token: str | None
) -> WSGIServer:
    """Serve `/metrics` in a daemon thread; call `.shutdown()` on the result to stop."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics here\n"]
        if not authorised(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"send TRIAGE_METRICS_TOKEN as a bearer token\n"]
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("serving worker metrics", extra={"port": server.server_port})
    return server
