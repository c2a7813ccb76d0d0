"""A reminder in a waiting ticket's thread, queued as data (how long it had waited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import OutboxKind, Ticket
from storage.queries.outbox import enqueue

# Outbox payload key of a reminder: the seconds the ticket had waited when it was queued.
WAITED_SECONDS = "waited_seconds"


def queue_reminder(ticket: Ticket, *, session: Session, now: datetime) -> None:
    """Queue the thread reply that says the ticket still waits for a label (never @channel)."""
    enqueue(
        OutboxKind.THREAD_REPLY,
        session=session,
        now=now,
        ticket_id=ticket.id,
        payload={
            "channel": ticket.slack_channel,
            "thread_ts": ticket.slack_ts,
            WAITED_SECONDS: (now - ticket.created_at).total_seconds(),
        },
    )
