"""Engines and sessions: SQLite tuned for a web and a worker process at once, or PostgreSQL.

SQLite has one write lock per database file. A writer that finds it taken waits in SQLite's
busy handler, which *sleeps* (1, 2, 5, 10 ms and longer) between tries, so a waiter sleeps on
while the lock is already free. Within one process, units of work that write therefore
queue on a Python lock first and are woken the moment the previous writer commits; SQLite's
busy handler is left for the rare wait on another process (the worker). Read-only units of
work (`reading`) take no write lock at all: WAL lets them read beside the writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "triage_read_only"  # execution option: a deferred BEGIN, no write lock taken
_WRITER_LOCK = "triage_writer_lock"  # in a SQLite factory's session info: one writer here


def create_db_engine(url: str, **options: Any) -> Engine:
    """Create the engine for `url`, with SQLite made safe for concurrent processes."""
    parsed = make_url(url)
    # Parameters are ticket texts: keep them out of error messages and SQL logs.
    options.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work together; foreign keys are off by default."""
    # Take over transaction control from pysqlite so `begin` below decides the BEGIN kind.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """Take the write lock at BEGIN: a deferred upgrade from reader to writer fails with
    SQLITE_BUSY at once instead of waiting, which two processes writing together would hit.
    A read-only unit of work (`reading`) begins deferred and never asks for the lock."""
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """One factory per process; callers open one session per unit of work. On SQLite the
    factory carries the process's writer lock (see the module docstring)."""
    info = {_WRITER_LOCK: threading.RLock()} if engine.dialect.name == "sqlite" else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit if the block succeeds, roll back if it raises."""
    with _one_writer(factory), factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it takes no write lock, so it neither waits
    for the writer nor makes the writer wait. It must not write (SQLite may refuse it)."""
    with factory() as session, session.begin():
        session.connection(execution_options={_READ_ONLY: True})
        yield session


@contextmanager
def _one_writer(factory: sessionmaker[Session]) -> Iterator[None]:
    """Queue behind this process's other SQLite writers; re-entrant, so a nested unit of work
    in the same thread behaves as before (SQLite's own busy timeout decides). After the busy
    timeout the unit of work goes ahead anyway and SQLite's own handling applies."""
    lock = factory.kw.get("info", {}).get(_WRITER_LOCK)
    if lock is None:
        yield
        return
    acquired = lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        yield
    finally:
        if acquired:
            lock.release()


def describe_url(engine: Engine) -> str:
    """The database URL with any password hidden, for messages and logs."""
    return engine.url.render_as_string(hide_password=True)
