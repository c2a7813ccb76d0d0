"""The outbox: deliveries written with the change they report, claimed with a lease.

A claim is a compare-and-set on `locked_until`, so a web and a worker process can both
deliver without sending the same row twice at once, on SQLite and PostgreSQL alike; a
deliverer that dies mid-send releases its rows when the lease runs out. Cancelling is the
same compare-and-set the other way: a row already claimed is never deleted under its sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxKind, OutboxMessage


def enqueue(
    kind: OutboxKind,
    *,
    session: Session,
    now: datetime,
    ticket_id: int | None = None,
    payload: dict[str, Any] | None = None,
    due_at: datetime | None = None,
) -> OutboxMessage:
    """Add a delivery to the caller's transaction."""
    message = OutboxMessage(
        kind=kind,
        ticket_id=ticket_id,
        payload=payload or {},
        created_at=now,
        due_at=due_at or now,
        attempts=0,
    )
    session.add(message)
    return message


def _claimable(now: datetime) -> Any:
    return and_(
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.dead_at.is_(None),
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
    )


def claim_due(
    *, session: Session, now: datetime, lease: timedelta, limit: int = 20
) -> list[OutboxMessage]:
    """Lock up to `limit` due rows for this deliverer, oldest first."""
    candidates = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(_claimable(now))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
        )
    )
    if not candidates:
        return []
    # One compare-and-set for all of them: each row is taken only if still claimable (under
    # PostgreSQL's READ COMMITTED a row another deliverer took meanwhile is re-checked and
    # skipped, as it was row by row); RETURNING says which.
    claim = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), _claimable(now))
        .values(locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if session.get_bind().dialect.update_returning:
        claimed = list(session.scalars(claim.returning(OutboxMessage.id)))
    else:  # without RETURNING, one compare-and-set per row tells which were taken
        claimed = []
        for message_id in candidates:
            result = session.execute(claim.where(OutboxMessage.id == message_id))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(message_id)
    if not claimed:
        return []
    session.expire_all()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)))
    return sorted(rows, key=lambda m: (m.due_at, m.id))


def cancel_unclaimed(message_id: int, *, session: Session, now: datetime) -> bool:
    """Delete a delivery no deliverer holds; False when it was sent or is being sent."""
    unclaimed = or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now)
    result = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.delivered_at.is_(None), unclaimed)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_delivered(
    delivered: Mapping[int, dict[str, Any] | None], *, session: Session, now: datetime
) -> None:
    """These deliveries went through; they will not be tried again. Each row's new payload,
    where not None, replaces its own (to keep what the send returned, such as the ts of a
    post to edit later). One executemany per shape of row, not one UPDATE per row: a
    delivery pass marks all it sent at once."""
    cleared = {"delivered_at": now, "locked_until": None, "last_error": None}
    rows = [
        {"id": message_id, **cleared, **({} if payload is None else {"payload": payload})}
        for message_id, payload in delivered.items()
    ]
    for shape in (False, True):  # rows with the same keys go in one statement
        group = [row for row in rows if ("payload" in row) is shape]
        if group:
            session.execute(update(OutboxMessage), group)


def mark_failed(message_id: int, *, session: Session, retry_at: datetime, error: str) -> None:
    """The delivery failed; try again at `retry_at`."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(due_at=retry_at, locked_until=None, last_error=error[:500])
    )


def mark_dead(message_id: int, *, session: Session, now: datetime, error: str) -> None:
    """Give up on a delivery: it stays, as a dead letter, until an admin retries it."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(dead_at=now, locked_until=None, last_error=error[:500])
    )


def dead_letters(
    kind: OutboxKind, *, session: Session, ticket_id: int | None = None
) -> list[OutboxMessage]:
    """The dead letters of one kind (of one ticket, when given), oldest first."""
    query = select(OutboxMessage).where(
        OutboxMessage.kind == kind, OutboxMessage.dead_at.is_not(None)
    )
    if ticket_id is not None:
        query = query.where(OutboxMessage.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def count_dead(kind: OutboxKind, *, session: Session) -> int:
    """How many deliveries of `kind` were given up and wait for an admin."""
    query = select(func.count()).where(
        OutboxMessage.kind == kind, OutboxMessage.dead_at.is_not(None)
    )
    return int(session.scalar(query) or 0)


def revive(message_ids: list[int], *, session: Session, now: datetime) -> None:
    """Dead letters back in the queue, due now, their attempts and age counted afresh."""
    if not message_ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.dead_at.is_not(None))
        .values(dead_at=None, retried_at=now, attempts=0, due_at=now, locked_until=None)
        .execution_options(synchronize_session="fetch")
    )


def pending_summary(*, session: Session) -> tuple[int, int, datetime | None]:
    """Slack posts: (undelivered rows, of which failed at least once, oldest undelivered
    creation time). Callbacks are left out: they have their own give-up rule and alert."""
    pending = and_(
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.dead_at.is_(None),
        OutboxMessage.kind != OutboxKind.CALLBACK,
    )
    total, failing, oldest = session.execute(
        select(
            func.count(),
            func.count().filter(OutboxMessage.last_error.is_not(None)),
            func.min(OutboxMessage.created_at),
        ).where(pending)
    ).one()
    return total, failing, oldest
