"""Claiming outbox rows: each due row goes to one deliverer per lease, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.database import unit_of_work
from storage.models import OutboxKind, OutboxMessage
from storage.queries.outbox import claim_due, enqueue

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def test_claims_take_each_due_row_once_per_lease_oldest_first(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as session:
        due = [
            enqueue(OutboxKind.ALERT, session=session, now=NOW, due_at=NOW - timedelta(s))
            for s in (5, 50, 1, 30, 10)
        ]
        later = enqueue(OutboxKind.ALERT, session=session, now=NOW, due_at=NOW + LEASE)
        sent = enqueue(OutboxKind.ALERT, session=session, now=NOW, due_at=NOW - LEASE)
        sent.delivered_at = NOW
        dead = enqueue(OutboxKind.CALLBACK, session=session, now=NOW, due_at=NOW - LEASE)
        dead.dead_at = NOW
        session.flush()
        oldest_first = [m.id for m in sorted(due, key=lambda m: m.due_at)]
        others = {later.id, sent.id, dead.id}

    def claim(now: datetime, limit: int) -> list[OutboxMessage]:
        with unit_of_work(factory) as session:
            return claim_due(session=session, now=now, lease=LEASE, limit=limit)

    first = claim(NOW, 3)
    assert [m.id for m in first] == oldest_first[:3]
    assert all(m.attempts == 1 and m.locked_until == NOW + LEASE for m in first)
    second = claim(NOW, 3)  # another deliverer, same moment: only what the first left
    assert [m.id for m in second] == oldest_first[3:]
    assert claim(NOW + LEASE - timedelta(seconds=1), 10) == []  # all held
    # The leases run out: every due row is claimable again (with `later` now due too).
    again = claim(NOW + LEASE + timedelta(seconds=1), 10)
    assert [m.id for m in again] == [*oldest_first, later.id]
    assert [m.attempts for m in again] == [2] * 5 + [1]
    with unit_of_work(factory) as session:
        stored = {
            m.id: (m.attempts, m.locked_until)
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(others)))
        }
    assert stored[sent.id] == (0, None) and stored[dead.id] == (0, None)
