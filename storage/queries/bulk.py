"""Many rows of one table in one statement, for intake's batches (no ORM unit of work).

The ORM inserts a batch row by row on SQLite (it needs each new id back, and SQLite does
not promise RETURNING's order), building each object's state as it goes. Intake knows
every column of its rows beforehand, so it hands them to the driver's `executemany` in
one call. The ids are those SQLite gives such rows: one more than the largest id in the
table, one after the other (tables without AUTOINCREMENT, while this transaction holds the
write lock); PostgreSQL gives them back with RETURNING, in the rows' order, and so does
SQLite for a single row (one statement instead of three, for the one-ticket batches of a
quiet moment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Select, Table, func, insert, select
from sqlalchemy.orm import Session

LARGEST_ROWID = 2**63 - 1  # past it SQLite picks new ids at random, not in order


def insert_rows(table: Table, rows: Sequence[Mapping[str, Any]], *, session: Session) -> None:
    """Insert `rows` (column name -> value, the same names in each) in the session's
    transaction, in order."""
    if rows:
        session.execute(insert(table), list(rows))


def insert_returning_ids(
    table: Table, rows: Sequence[Mapping[str, Any]], *, session: Session
) -> list[int]:
    """`insert_rows`, answering each row's new integer primary key `id`, in order."""
    if not rows:
        return []
    connection = session.connection()
    if len(rows) == 1 or connection.dialect.name != "sqlite":  # one row: its own RETURNING
        returning = _returning(table)
        return [int(row[0]) for row in connection.execute(returning, list(rows))]
    before = int(connection.execute(_largest_id(table)).scalar() or 0)
    if before > LARGEST_ROWID - len(rows):  # never in practice; then one row at a time
        return [int(connection.execute(_returning(table), dict(row)).scalar_one()) for row in rows]
    connection.execute(insert(table), list(rows))
    last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    if last != before + len(rows):
        raise AssertionError(f"{table.name}: ids {before + 1}..{last} for {len(rows)} rows")
    return list(range(before + 1, last + 1))


# Statements built once per table: building one and its cache key cost more than running it.
_RETURNING: dict[Table, Insert] = {}
_LARGEST: dict[Table, Select[Any]] = {}


def _returning(table: Table) -> Insert:
    """INSERT ... RETURNING id, the ids in the rows' order (PostgreSQL's executemany)."""
    statement = _RETURNING.get(table)
    if statement is None:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        _RETURNING[table] = statement
    return statement


def _largest_id(table: Table) -> Select[Any]:
    statement = _LARGEST.get(table)
    if statement is None:
        statement = _LARGEST[table] = select(func.max(table.c.id))
    return statement
