"""Many rows of one table in one statement, for intake's batches (no ORM unit of work).

The ORM inserts a batch row by row on SQLite (it needs each new id back, and SQLite does
not promise RETURNING's order), building each object's state as it goes. Intake knows
every column of its rows beforehand, so it hands them to the driver's `executemany` in
one call. The ids are those SQLite gives such rows: one more than the largest id in the
table, one after the other (tables without AUTOINCREMENT, while this transaction holds the
write lock); PostgreSQL gives them back with RETURNING, in the rows' order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
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
    key = table.c.id
    if session.get_bind().dialect.name != "sqlite":
        returning = insert(table).returning(key, sort_by_parameter_order=True)
        return [int(row[0]) for row in session.execute(returning, list(rows))]
    before = int(session.execute(select(func.max(key))).scalar() or 0)
    if before > LARGEST_ROWID - len(rows):  # never in practice; then one row at a time
        single = insert(table).returning(key)
        return [int(session.execute(single, dict(row)).scalar_one()) for row in rows]
    session.execute(insert(table), list(rows))
    last = int(session.execute(text("SELECT last_insert_rowid()")).scalar_one())
    if last != before + len(rows):
        raise AssertionError(f"{table.name}: ids {before + 1}..{last} for {len(rows)} rows")
    return list(range(before + 1, last + 1))
