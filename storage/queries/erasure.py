"""Removing ticket text: one ticket on request, or every ticket past the retention period.

Only the text and what was sent with it (subject, metadata) go; the row, its labels, its
answers and every figure computed from them stay, so statistics and audits are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxKind, OutboxMessage, Ticket

ERASED_TEXT = ""  # the column is NOT NULL; erased_at says why it is empty


def erase_texts(ticket_ids: Sequence[int], *, session: Session, now: datetime) -> int:
    """Remove the text, subject and metadata of these tickets (those not erased yet)."""
    if not ticket_ids:
        return 0
    result = session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ticket_ids), Ticket.erased_at.is_(None))
        .values(text=ERASED_TEXT, subject=None, extra=None, erased_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def expired_ticket_ids(before: datetime, *, session: Session, limit: int) -> list[int]:
    """Up to `limit` tickets created before `before` whose text is still kept, oldest first."""
    query = (
        select(Ticket.id)
        .where(Ticket.created_at < before, Ticket.erased_at.is_(None))
        .order_by(Ticket.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def prune_delivered(before: datetime, *, session: Session) -> int:
    """Delete outbox rows delivered before `before`.

    Kept: the rows that locate a bot message quoting a ticket's text (its route post, a
    thread reply), until that ticket is erased, because erasing it edits those messages.
    """
    kept_text = select(Ticket.id).where(Ticket.erased_at.is_(None))
    locates_text = and_(
        OutboxMessage.kind.in_([OutboxKind.ROUTE, OutboxKind.THREAD_REPLY]),
        OutboxMessage.ticket_id.in_(kept_text),
    )
    result = session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.delivered_at.is_not(None),
            OutboxMessage.delivered_at < before,
            ~locates_text,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delivered_for_ticket(ticket_id: int, *, session: Session) -> list[OutboxMessage]:
    """Every delivered outbox row of one ticket, oldest first."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.ticket_id == ticket_id, OutboxMessage.delivered_at.is_not(None))
        .order_by(OutboxMessage.id)
    )
    return list(session.scalars(query))
