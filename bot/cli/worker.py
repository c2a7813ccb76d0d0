"""`triage worker`: the scheduler process (Procfile `worker`)."""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import Any

from bot.cli.runtime import open_database
from bot.settings import Settings
from jobs.worker import Worker, build_context


def register(commands: Any) -> None:
    """Add `worker` to the parser."""
    worker = commands.add_parser(
        "worker", help="run scheduled jobs: retraining, delivery, reminders, alerts, digest"
    )
    worker.set_defaults(handler=worker_command, serves=True)


def worker_command(_args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM or Ctrl-C, then stop the current job cleanly and hand over."""
    with open_database(settings) as (engine, factory):
        ctx = build_context(settings, factory)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            ctx.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        Worker(ctx, engine).run()
    return 0
