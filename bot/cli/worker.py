"""`triage worker`: the scheduler process (Procfile `worker`), wired to the real Slack client,
and its container health check."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.cli.runtime import open_database, started_checks
from bot.clock import utc_now
from bot.delivery import Deliverer, permalink_finder, slack_client
from bot.metrics.process import ProcessMetrics, exposition_registry
from bot.metrics.worker import OwnHeartbeat, serve_metrics
from bot.services.worker_health import check_local_worker
from bot.settings import Settings
from jobs.worker import Worker, WorkerContext
from storage.database import unit_of_work


def register(commands: Any) -> None:
    """Add `worker` to the parser."""
    worker = commands.add_parser(
        "worker", help="run scheduled jobs: retraining, delivery, reminders, alerts, digest"
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless the worker on this host is alive and leading or able to lead "
        "(a container health check); prints one line either way",
    )
    worker.set_defaults(handler=worker_command, serves=True)


def build_context(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    now: Callable[[], datetime] = utc_now,
    metrics: ProcessMetrics | None = None,
) -> WorkerContext:
    """The context a worker process runs its jobs with: delivery and permalinks through the
    real Slack client (its calls counted in `metrics`, when given), which jobs never see."""
    client = slack_client(settings, metrics=metrics)
    return WorkerContext(
        settings=settings,
        factory=factory,
        now=now,
        deliver=Deliverer(factory, client, settings, now=now).run_once,
        permalink=permalink_finder(client),
    )


def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM or Ctrl-C, then stop the current job cleanly and hand over."""
    if args.check:
        return check_command(settings)
    settings = started_checks(settings)
    with open_database(settings) as (_engine, factory):
        metrics = ProcessMetrics()
        ctx = build_context(settings, factory, metrics=metrics)
        worker = Worker(ctx)
        server = None
        if settings.worker_metrics_port is not None:
            own = OwnHeartbeat(factory, worker.holder, now=utc_now)
            registry = exposition_registry(metrics, [own], multiprocess_dir=None)
            server = serve_metrics(
                registry,
                host="0.0.0.0",  # noqa: S104 - scraped from outside the container
                port=settings.worker_metrics_port,
                token=settings.metrics_token,
            )

        def stop(_signum: int, _frame: FrameType | None) -> None:
            ctx.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            worker.run()
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    return 0


def check_command(settings: Settings) -> int:
    """One line and exit 0 when the worker beside us is healthy, 1 otherwise."""
    try:
        with open_database(settings) as (_, factory), unit_of_work(factory) as session:
            verdict = check_local_worker(
                socket.gethostname(), session=session, settings=settings, now=utc_now()
            )
    except Exception as error:  # noqa: BLE001 - any failure to look is "unhealthy", said once
        reason = getattr(error, "reason", None) or f"database unreachable: {type(error).__name__}"
        print(f"triage worker --check: unhealthy: {reason}", file=sys.stderr)
        return 1
    print(f"triage worker --check: {verdict.line}", file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1
