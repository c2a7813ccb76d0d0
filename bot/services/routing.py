"""Where a labelled ticket goes: its label's route channel and its callback URL.

Shared by intake (automatic labels) and answers (a person's label, or an audit's correction).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import OutboxKind, Ticket
from storage.queries.labels import label_by_name
from storage.queries.outbox import enqueue


def queue_routing(
    ticket: Ticket,
    *,
    session: Session,
    now: datetime,
    routes: Mapping[str, str | None] | None = None,
) -> None:
    """A labelled ticket goes to its label's route channel and to its callback URL.

    `routes` (label name -> route channel, read in the same transaction) spares a query per
    ticket when the caller writes many; a label missing from it is looked up."""
    channel = None
    if ticket.final_label is not None:
        if routes is not None and ticket.final_label in routes:
            channel = routes[ticket.final_label]
        else:
            label = label_by_name(ticket.final_label, session=session)
            channel = None if label is None else label.route_channel
    for kind, payload in routing_messages(ticket, channel):
        enqueue(kind, session=session, now=now, ticket_id=ticket.id, payload=payload)


def routing_messages(
    ticket: Ticket, channel: str | None
) -> list[tuple[OutboxKind, dict[str, Any]]]:
    """The outbox rows (kind, payload) routing a labelled ticket queues, given its label's
    route channel (None: it has none)."""
    messages: list[tuple[OutboxKind, dict[str, Any]]] = []
    if channel:
        messages.append((OutboxKind.ROUTE, {"channel": channel, "label": ticket.final_label}))
    if ticket.callback_url:
        messages.append((OutboxKind.CALLBACK, {}))
    return messages
