"""One active model version, enforced by the database even when activations race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.database import create_db_engine, session_factory
from storage.migrate import upgrade
from storage.models import ModelStatus, ModelVersion
from storage.queries.model_versions import (
    ConcurrentActivation,
    activate,
    active_version,
    prune_artifacts,
    version_by_id,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def stored_version(session: Session, status: str = ModelStatus.CANDIDATE) -> int:
    row = ModelVersion(
        status=status, artifact=b"x", sha256="0" * 64, metrics={}, thresholds={}, created_at=NOW
    )
    session.add(row)
    session.flush()
    return row.id


def statuses(factory: sessionmaker[Session]) -> dict[int, str]:
    with factory() as session:
        rows = session.execute(select(ModelVersion.id, ModelVersion.status))
        return {version_id: status for version_id, status in rows}


def test_activating_retires_the_previous_version(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        first, second = stored_version(session), stored_version(session)
    for chosen in (first, second, first):
        with factory.begin() as session:
            version = version_by_id(chosen, session=session)
            assert version is not None
            activate(version, session=session, now=NOW)
    assert statuses(factory) == {first: "active", second: "retired"}
    with factory() as session:
        assert active_version(session=session).id == first  # type: ignore[union-attr]


def test_the_database_refuses_a_second_active_version(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        stored_version(session, ModelStatus.ACTIVE)
        other = stored_version(session)
    with pytest.raises(IntegrityError), factory.begin() as session:
        session.execute(
            update(ModelVersion).where(ModelVersion.id == other).values(status=ModelStatus.ACTIVE)
        )
    assert sorted(statuses(factory).values()) == ["active", "candidate"]


def test_a_racing_activation_fails_clearly_and_changes_nothing(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    """PostgreSQL: the loser waits on the winner's row lock, then its promotion is refused.
    (SQLite takes the write lock at BEGIN, so there writers queue and cannot interleave.)"""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE: no interleaving to test")
    with factory.begin() as session:
        old = stored_version(session, ModelStatus.ACTIVE)
        winner, loser = stored_version(session), stored_version(session)

    outcome: list[BaseException | None] = []
    loser_session = factory()
    loser_pid = loser_session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def activate_loser() -> None:
        try:
            version = version_by_id(loser, session=loser_session)
            assert version is not None
            activate(version, session=loser_session, now=NOW + timedelta(seconds=1))
            loser_session.commit()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            loser_session.rollback()
            outcome.append(error)

    with factory() as winner_session:
        version = version_by_id(winner, session=winner_session)
        assert version is not None
        activate(version, session=winner_session, now=NOW)  # holds the old row's lock
        thread = threading.Thread(target=activate_loser)
        thread.start()
        with engine.connect() as probe:
            blocked = text("SELECT cardinality(pg_blocking_pids(:pid)) > 0")
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            while not probe.execute(blocked, {"pid": loser_pid}).scalar_one():
                probe.rollback()
                thread.join(timeout=0.02)
                assert thread.is_alive(), "the second activation did not wait for the first"
                assert datetime.now(UTC) < deadline, "the second activation never waited"
        winner_session.commit()
    thread.join(timeout=10)
    loser_session.close()

    [error] = outcome
    assert isinstance(error, ConcurrentActivation)
    assert "another version was activated at the same moment" in error.reason
    assert statuses(factory) == {old: "retired", winner: "active", loser: "candidate"}


def test_upgrade_keeps_the_latest_of_two_active_versions(database_url: str) -> None:
    """A database that raced before the index existed is repaired by the migration."""
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0003")
        factory = session_factory(engine)
        with factory.begin() as session:
            ids = [stored_version(session, ModelStatus.ACTIVE) for _ in range(3)]
            for offset, version_id in zip((2, 0, 1), ids, strict=True):
                row = session.get(ModelVersion, version_id)
                assert row is not None
                row.activated_at = NOW + timedelta(minutes=offset)
        upgrade(engine)
        assert statuses(factory) == {ids[0]: "active", ids[1]: "retired", ids[2]: "retired"}
    finally:
        engine.dispose()


def test_pruning_keeps_the_newest_models_and_the_active_one(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        ids = [stored_version(session) for _ in range(13)]
        version = version_by_id(ids[1], session=session)
        assert version is not None
        activate(version, session=session, now=NOW)  # an old version rolled back to
    with factory.begin() as session:
        assert prune_artifacts(session=session, keep=10) == 2
        assert prune_artifacts(session=session, keep=10) == 0  # already pruned
    with factory() as session:
        kept = dict(session.execute(select(ModelVersion.id, ModelVersion.artifact)).all())
    assert [i for i in ids if kept[i] is None] == [ids[0], ids[2]]
    assert all(kept[i] == b"x" for i in [ids[1], *ids[3:]])
    assert len(statuses(factory)) == 13  # rows and their metrics stay
