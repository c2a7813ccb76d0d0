"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from storage.database import create_db_engine, session_factory
from storage.migrate import upgrade
from tests.template import MigratedTemplate

pytest_plugins = ["tests.slack_fixtures"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE_TRAIN = REPO / "bot" / "sample" / "banking77_sample_train.csv"
SAMPLE_HOLDOUT = REPO / "bot" / "sample" / "banking77_sample_holdout.csv"


# A test opens the test database when it asks for one of these (directly or through
# `engine`, `factory`, `settings` and the fixtures built on them).
DATABASE_FIXTURES = frozenset({"database_url", "sandbox"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With TEST_DATABASE_URL set, run only the tests that open the test database.

    The rest (the classifier, the command line on its own SQLite files, the layer checks,
    the image) do exactly the same on either run: CI runs the suite without and then with
    TEST_DATABASE_URL, and running them twice would only double their time."""
    if not os.environ.get("TEST_DATABASE_URL"):
        return
    opens = [item for item in items if DATABASE_FIXTURES & set(item.fixturenames)]
    if len(opens) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in opens])
        items[:] = opens


@contextmanager
def empty_database(directory: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh schema in TEST_DATABASE_URL's PostgreSQL."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{directory / 'triage.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Commits need not wait for the disk here: a test database is never recovered after a
    # crash, and atomicity and isolation are unchanged.
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = make_url(server).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test."""
    with empty_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplate]:
    """The schema every migration builds, made once per run and copied into each test's
    database: running the 16 migrations cost about 0.5 s per test on SQLite and 1 s on
    PostgreSQL, most of the suite's database time. `tests/storage/test_migrations.py`
    still runs them for real, and checks the copy against the models."""
    with empty_database(tmp_path_factory.mktemp("template")) as url:
        template = create_db_engine(url)
        upgrade(template)
        yield MigratedTemplate.capture(template)
        template.dispose()


@pytest.fixture
def engine(database_url: str, migrated_template: MigratedTemplate) -> Iterator[Engine]:
    """A migrated database (a copy of the migrated template)."""
    created = create_db_engine(database_url)
    migrated_template.fill(created)
    yield created
    created.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory a process would build."""
    return session_factory(engine)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings as a deployment with no configuration would have them, on the test database."""
    return Settings.from_env({"DATABASE_URL": database_url}, dotenv_path=None)
