"""Migrations build the schema the models describe, and the app refuses an old schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.database import create_db_engine
from storage.errors import SchemaNotCurrent
from storage.migrate import current_revision, ensure_current, head_revision, upgrade
from storage.models import Base, Label


def test_unmigrated_database_is_refused_with_the_fix(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with pytest.raises(SchemaNotCurrent, match="triage db upgrade"):
            ensure_current(engine)
    finally:
        engine.dispose()


@pytest.fixture
def migrated_for_real(database_url: str) -> Iterator[Engine]:
    """A database built by running every migration (other tests get a copy of one)."""
    created = create_db_engine(database_url)
    upgrade(created)
    yield created
    created.dispose()


def test_upgrade_reaches_head_and_is_idempotent(migrated_for_real: Engine) -> None:
    assert current_revision(migrated_for_real) == head_revision()
    upgrade(migrated_for_real)
    ensure_current(migrated_for_real)


@pytest.mark.parametrize("built_by", ["migrations", "template copy"])
def test_models_and_migrations_agree(
    built_by: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    """A model change without a migration would make this list non-empty; the copy the
    other tests get from the migrated template must pass the same check. (`database_url`
    is named so that the PostgreSQL run keeps this test: both fixtures are built on it.)"""
    engine = request.getfixturevalue("migrated_for_real" if built_by == "migrations" else "engine")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []
    assert current_revision(engine) == head_revision()


def test_sqlite_is_set_up_for_two_processes(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_timestamps_come_back_aware_in_utc(factory: sessionmaker[Session]) -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 23, 18, 0, tzinfo=paris)
    with factory.begin() as session:
        session.add(Label(name="card_arrival", active=True, created_at=moment))
    with factory() as session:
        stored = session.query(Label).one().created_at
    assert stored == moment
    assert stored.tzinfo == UTC


def test_naive_timestamps_are_refused(factory: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="timezone-aware"), factory.begin() as session:
        session.add(Label(name="x", active=True, created_at=datetime(2026, 1, 1)))
        session.flush()
