"""`triage worker`: the scheduler process (Procfile `worker`), wired to the real Slack client."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.cli.runtime import open_database
from bot.clock import utc_now
from bot.delivery import Deliverer, permalink_finder, slack_client
from bot.settings import Settings
from jobs.worker import Worker, WorkerContext


def register(commands: Any) -> None:
    """Add `worker` to the parser."""
    worker = commands.add_parser(
        "worker", help="run scheduled jobs: retraining, delivery, reminders, alerts, digest"
    )
    worker.set_defaults(handler=worker_command, serves=True)


def build_context(
    settings: Settings, factory: sessionmaker[Session], *, now: Callable[[], datetime] = utc_now
) -> WorkerContext:
    """The context a worker process runs its jobs with: delivery and permalinks through the
    real Slack client, which the jobs themselves never see."""
    client = slack_client(settings)
    return WorkerContext(
        settings=settings,
        factory=factory,
        now=now,
        deliver=Deliverer(factory, client, settings, now=now).run_once,
        permalink=permalink_finder(client),
    )


def worker_command(_args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM or Ctrl-C, then stop the current job cleanly and hand over."""
    with open_database(settings) as (_engine, factory):
        ctx = build_context(settings, factory)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            ctx.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        Worker(ctx).run()
    return 0
