"""`triage sandbox`: the whole loop on a laptop, with a local page playing Slack."""

from __future__ import annotations

import argparse
import signal
import threading
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from bot.cli.modelling import train_now
from bot.cli.runtime import CountProgress, open_database
from bot.clock import utc_now
from bot.errors import InvalidInput
from bot.sandbox.runner import SETTING_DEFAULTS, Sandbox
from bot.services.importing import import_labelled_csv
from bot.settings import Settings
from storage.database import unit_of_work
from storage.migrate import upgrade
from storage.queries.model_versions import active_version_id

SAMPLE_TRAIN = resources.files("bot") / "sample" / "banking77_sample_train.csv"
CHECK_SECONDS = 1.0


def register(commands: Any) -> None:
    """Add `sandbox` to the parser."""
    sandbox = commands.add_parser(
        "sandbox",
        help="try the whole loop in the browser: a local Slack, the real web app and worker",
        description=(
            "Create the database (and a model from the shipped sample if there is none), start "
            "the web app, the worker and a local page that plays Slack, and run until Ctrl-C."
        ),
    )
    sandbox.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port of the page (0: any free one); the app uses PORT",
    )
    sandbox.add_argument(
        "--feed",
        type=float,
        default=3.0,
        metavar="N",
        help="post N held-out sample tickets a minute through the ticket API (0: none)",
    )
    sandbox.set_defaults(handler=sandbox_command, setting_defaults=SETTING_DEFAULTS)


def prepare_database(settings: Settings) -> None:
    """Migrate; with no active model, import the shipped sample and train one."""
    with open_database(settings, check_schema=False) as (engine, factory):
        upgrade(engine)
        with unit_of_work(factory) as session:
            if active_version_id(session=session) is not None:
                return
        with unit_of_work(factory) as session, CountProgress("importing", unit="row") as bar:
            import_labelled_csv(
                Path(str(SAMPLE_TRAIN)), session=session, now=utc_now(), progress=bar
            )
        train_now(factory, settings, trigger="`triage sandbox`")


def sandbox_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGINT or SIGTERM, then stop every process the sandbox started."""
    if args.feed < 0:
        raise InvalidInput("--feed must be 0 or more tickets a minute")
    prepare_database(settings)
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with Sandbox(settings, page_port=args.port, feed_per_minute=args.feed) as sandbox:
        print(f"Sandbox running at {sandbox.url} (Ctrl-C to stop)", flush=True)
        while not stopping.wait(CHECK_SECONDS):
            sandbox.check_children()
    return 0
