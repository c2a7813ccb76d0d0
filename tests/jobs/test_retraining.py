"""The retraining job: when it is due, what it records, and that failures never touch the
active model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.services.importing import import_labelled_rows, read_labelled_csv
from bot.services.policy import RETRAIN_REQUESTED
from bot.settings import Settings
from jobs.retraining import mark_interrupted_runs, retraining_due, run_retraining
from storage.models import ModelVersion, Review, TrainingRun
from storage.queries.model_versions import active_version_id
from storage.queries.runtime_settings import runtime_settings, set_runtime_setting
from tests.conftest import SAMPLE_TRAIN
from tests.jobs.conftest import Clock
from tests.jobs.helpers import add_ticket, alerts

SMALL_HISTORY = 700  # enough rows for a real model, few enough for a fast test


def import_history(factory: sessionmaker[Session], clock: Clock, rows: int = SMALL_HISTORY) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed[:rows], session=session, now=clock())


def runs(factory: sessionmaker[Session]) -> list[TrainingRun]:
    with factory() as session:
        return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))


def active_id(factory: sessionmaker[Session]) -> int | None:
    with factory() as session:
        return active_version_id(session=session)


def test_first_model_then_due_only_after_enough_answers_or_a_request(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    assert run_retraining(factory, settings=job_settings, now=clock) is None  # nothing to learn
    import_history(factory, clock, rows=1)
    assert run_retraining(factory, settings=job_settings, now=clock) is None  # too little yet
    import_history(factory, clock)
    first = run_retraining(factory, settings=job_settings, now=clock)
    assert first is not None and first.status == "succeeded"
    assert first.trigger == "first model from imported history"
    assert active_id(factory) == first.model_version_id
    assert "promoted" in alerts(factory)[-1] and "accuracy" in alerts(factory)[-1]

    clock.advance(minutes=5)
    assert run_retraining(factory, settings=job_settings, now=clock) is None
    ticket = add_ticket(
        factory,
        clock(),
        status="labelled",
        final_label="card_arrival",
        decided_by="U1",
        decided_at=clock(),
    )
    with factory.begin() as session:
        for user in ("U1", "U2"):
            session.add(
                Review(
                    ticket_id=ticket,
                    slack_user=user,
                    label="card_arrival",
                    kind="review",
                    created_at=clock(),
                )
            )
        session.add(
            Review(ticket_id=ticket, slack_user="U3", label=None, kind="review", created_at=clock())
        )  # skips do not count
    with factory() as session:
        due = retraining_due(session=session, settings=job_settings)
    assert (due.due, due.new_answers) == (False, 2)

    with factory.begin() as session:
        set_runtime_setting(
            RETRAIN_REQUESTED,
            {"by": "UADMIN", "at": "now"},
            session=session,
            actor="UADMIN",
            now=clock(),
        )
    second = run_retraining(factory, settings=job_settings, now=clock)
    assert second is not None and second.trigger == "requested by <@UADMIN>"
    with factory() as session:
        assert RETRAIN_REQUESTED not in runtime_settings(session=session)  # consumed


def test_failure_and_shutdown_leave_the_active_model_alone(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    add_ticket(
        factory, clock(), status="labelled", final_label="a", decided_by="U1", decided_at=clock()
    )
    failed = run_retraining(factory, settings=job_settings, now=clock, force=True)
    assert failed is not None and failed.status == "failed"
    assert "Not enough labelled tickets" in (failed.error or "")
    assert "Retraining #1 failed" in alerts(factory)[-1]

    import_history(factory, clock, rows=300)
    abandoned = run_retraining(
        factory, settings=job_settings, now=clock, force=True, should_stop=lambda: True
    )
    assert abandoned is not None and abandoned.status == "abandoned"
    assert active_id(factory) is None
    with factory() as session:
        assert session.scalars(select(ModelVersion)).all() == []


KILLED_TRAINING = textwrap.dedent(
    """
    import sys, time
    from bot.clock import utc_now
    from bot.settings import Settings
    from jobs.retraining import run_retraining
    from storage.database import create_db_engine, session_factory

    settings = Settings.from_env({"DATABASE_URL": sys.argv[1]}, dotenv_path=None)
    factory = session_factory(create_db_engine(settings.database_url))
    run_retraining(factory, settings=settings, now=utc_now, force=True)
    """
)


def test_retraining_killed_halfway_is_reported_and_changes_nothing(
    database_url: str, factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock, rows=1848)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINING, database_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    deadline = time.monotonic() + 60
    while not runs(factory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runs(factory) and runs(factory)[0].status == "running", "training never started"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

    assert active_id(factory) is None
    with factory.begin() as session:  # the child beat on the real clock: a day after it, stale
        later = utc_now() + timedelta(days=1)
        assert mark_interrupted_runs(session=session, settings=job_settings, now=later) == 1
    [run] = runs(factory)
    assert run.status == "interrupted" and run.model_version_id is None
    assert "was interrupted" in alerts(factory)[-1]
    with factory() as session:
        assert session.scalars(select(ModelVersion)).all() == []


@pytest.fixture(autouse=True)
def _quiet_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
