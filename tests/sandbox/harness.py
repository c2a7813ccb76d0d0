"""What the browser tests and the screenshot script share: Debian's Chromium, a sandbox on a
fresh database with the sample and a model, free ports."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.cli.sandbox import prepare_database
from bot.sandbox.runner import SETTING_DEFAULTS, Sandbox
from bot.services.importing import import_labelled_csv
from bot.settings import Settings
from classifier import TrainedModel
from storage.database import create_db_engine, session_factory, unit_of_work
from storage.migrate import upgrade
from tests.bot.conftest import NOW, install_model
from tests.conftest import SAMPLE_TRAIN, empty_database

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The page tests follow one person's clicks: no answer waits for a second opinion
# (tests/bot/test_second_opinions covers those).
SINGLE_ANSWERS = {"TRIAGE_SECOND_OPINION_SHARE": "0", "TRIAGE_SECOND_OPINION_DOUBTS": "off"}


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright cannot download its own build here)."""
    found = [path for path in CHROMIUM if Path(path).is_file()]
    return found[0] if found else shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_sandbox(
    directory: Path, trained_model: TrainedModel | None, **environment: str
) -> Iterator[tuple[Sandbox, sessionmaker[Session]]]:
    """A sandbox on a fresh database holding the sample and a model trained on it, on free
    ports: `triage sandbox`'s own preparation, or (quicker) the given trained model."""
    with empty_database(directory) as url:
        settings = Settings.from_env(
            {
                "DATABASE_URL": url,
                "PORT": str(free_port()),
                **SETTING_DEFAULTS,
                **SINGLE_ANSWERS,
                **environment,
            },
            dotenv_path=None,
        )
        engine = create_db_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        if trained_model is None:
            prepare_database(settings)
        else:
            with unit_of_work(factory) as session:
                import_labelled_csv(SAMPLE_TRAIN, session=session, now=NOW)
            install_model(factory, trained_model)
        try:
            with Sandbox(settings, page_port=0, feed_per_minute=0) as sandbox:
                yield sandbox, factory
        finally:
            engine.dispose()
