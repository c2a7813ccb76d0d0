"""Where a labelled ticket goes: its label's route channel and its callback URL.

Shared by intake (automatic labels) and answers (a person's label, or an audit's correction).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import OutboxKind, Ticket
from storage.queries.labels import label_by_name
from storage.queries.outbox import enqueue


def queue_routing(ticket: Ticket, *, session: Session, now: datetime) -> None:
    """A labelled ticket goes to its label's route channel and to its callback URL."""
    label = (
        None if ticket.final_label is None else label_by_name(ticket.final_label, session=session)
    )
    if label is not None and label.route_channel:
        enqueue(
            OutboxKind.ROUTE,
            session=session,
            now=now,
            ticket_id=ticket.id,
            payload={"channel": label.route_channel, "label": ticket.final_label},
        )
    if ticket.callback_url:
        enqueue(OutboxKind.CALLBACK, session=session, now=now, ticket_id=ticket.id)
