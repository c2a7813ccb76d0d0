"""Small builders for job tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.alerts import build_alert_from
from storage.models import Alert, OutboxKind, OutboxMessage, Ticket, TicketStatus


def add_ticket(factory: sessionmaker[Session], created_at: datetime, **fields: Any) -> int:
    values: dict[str, Any] = {
        "text": "Where is my card?",
        "source": "api",
        "status": TicketStatus.PENDING,
        "decision": "review",
        **fields,
    }
    with factory.begin() as session:
        ticket = Ticket(created_at=created_at, **values)
        session.add(ticket)
        session.flush()
        return ticket.id


def alerts(factory: sessionmaker[Session]) -> list[str]:
    """Every alert message as the alerts channel shows it now (repeats edited in), oldest
    first; rendered by the builder the deliverer uses."""
    with factory() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id))
        return [
            str(build_alert_from(a.content, repeats=a.repeats, last_seen=a.last_seen_at)["blocks"])
            for a in rows
        ]


def channel_posts(factory: sessionmaker[Session]) -> list[str]:
    """Prepared messages queued for a channel (digests, announcements), oldest first."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.CHANNEL_MESSAGE)
            .order_by(OutboxMessage.id)
        )
        return [str(row.payload.get("blocks", row.payload.get("text"))) for row in rows]


def thread_replies(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.THREAD_REPLY)
        )
        return [row.payload for row in rows]
