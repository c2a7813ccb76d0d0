"""Fixtures for job tests: a controllable clock and settings with an alerts channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.settings import Settings

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand: jobs take `now` and never sleep."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def job_settings(database_url: str) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "TRIAGE_ALERTS_CHANNEL": "CALERTS",
            "TRIAGE_REVIEW_CHANNEL": "CREVIEW",
            "TRIAGE_RETRAIN_MIN_ANSWERS": "3",
            "TRIAGE_BACKLOG_ALERT": "2",
            "TRIAGE_MIN_AUDITS_FOR_ALERT": "5",
        },
        dotenv_path=None,
    )
