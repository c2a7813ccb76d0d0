"""What CLI subcommands share: the database connection and the progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from bot.delivery import slack_client
from bot.settings import Settings
from bot.startup import resolve_channels, warn_about_platform
from storage.database import create_db_engine, session_factory
from storage.migrate import ensure_current


@contextmanager
def open_database(
    settings: Settings, *, check_schema: bool = True
) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """Connect, refuse an unmigrated schema, and dispose of the engine afterwards."""
    engine = create_db_engine(settings.database_url)
    try:
        if check_schema:
            ensure_current(engine)
        yield engine, session_factory(engine)
    finally:
        engine.dispose()


def started_checks(settings: Settings) -> Settings:
    """What `serve` and `worker` check before starting: channel names become IDs (the
    worker posts with the bot token alone), and a SQLite file where it cannot be shared is
    warned of, as are unsigned callbacks (once the settings were found sound)."""
    client = slack_client(settings) if settings.slack_bot_token else None
    resolved = resolve_channels(settings, client)
    warn_about_platform(resolved)
    return resolved


class StageProgress:
    """A progress bar per training stage, fed by the classifier's (stage, step, total) calls."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._stage = ""

    def __call__(self, stage: str, step: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=stage, file=sys.stderr, leave=True)
        if self._bar is not None:
            self._bar.n = step
            self._bar.refresh()

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class CountProgress:
    """A progress bar fed with (done, total) calls; created on the first call."""

    def __init__(self, description: str, *, unit: str = "it") -> None:
        self._description, self._unit = description, unit
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self._description, unit=self._unit, file=sys.stderr)
        self._bar.n = done
        self._bar.refresh()

    def __enter__(self) -> CountProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
