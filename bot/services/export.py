"""Export of the labelled data: each ticket with its final label, how and by whom it was
decided, and every answer given, read in keyset-paginated batches so any size streams in
constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.services.actors import HELPDESK
from classifier import Decision
from storage.models import Review, Ticket, TicketStatus

BATCH = 500
# The CSV columns; `answers` holds the list of answers as JSON.
COLUMNS = (
    "id",
    "source",
    "external_id",
    "created_at",
    "status",
    "label",
    "decided_how",
    "decided_by",
    "decided_at",
    "model_version",
    "suggested_label",
    "confidence",
    "erased",
    "subject",
    "text",
    "answers",
)


def decided_how(ticket: Ticket) -> str | None:
    """auto, audit (a person checked an automatic label), review, helpdesk, imported, or
    None while it waits for a person."""
    if ticket.status == TicketStatus.IMPORTED:
        return "imported"
    if ticket.decided_by is None:
        return "auto" if ticket.status == TicketStatus.AUTO else None
    if ticket.decided_by.startswith(HELPDESK):
        return "helpdesk"
    return "audit" if ticket.decision == Decision.AUDIT else "review"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _answer(review: Review) -> dict[str, Any]:
    return {
        "reviewer": review.slack_user,
        "label": review.label,
        "none_of_these": review.no_label,
        "proposed_label": review.proposed_label,
        "kind": str(review.kind),
        "at": review.created_at.isoformat(),
        "undone_at": _iso(review.undone_at),
    }


def export_record(ticket: Ticket) -> dict[str, Any]:
    """One ticket as the export writes it (text null once erased)."""
    erased = ticket.erased_at is not None
    return {
        "id": ticket.id,
        "source": ticket.source,
        "external_id": ticket.external_id,
        "created_at": ticket.created_at.isoformat(),
        "status": str(ticket.status),
        "label": ticket.final_label,
        "decided_how": decided_how(ticket),
        "decided_by": ticket.decided_by,
        "decided_at": _iso(ticket.decided_at),
        "model_version": ticket.model_version_id,
        "suggested_label": ticket.predicted_label,
        "confidence": ticket.confidence,
        "erased": erased,
        "subject": None if erased else ticket.subject,
        "text": None if erased else ticket.text,
        "answers": [_answer(r) for r in ticket.reviews],
    }


def export_page(
    *, session: Session, since: datetime | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` tickets with an id above `after` (created at or after `since`)."""
    query = (
        select(Ticket)
        .options(selectinload(Ticket.reviews))
        .where(Ticket.id > after)
        .order_by(Ticket.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    return [export_record(ticket) for ticket in session.scalars(query)]


def export_all(
    *, session: Session, since: datetime | None, batch: int = BATCH
) -> Iterator[dict[str, Any]]:
    """Every ticket, oldest first; the session forgets each batch once it is written."""
    after = 0
    while True:
        page = export_page(session=session, since=since, after=after, limit=batch)
        session.expunge_all()
        yield from page
        if len(page) < batch:
            return
        after = page[-1]["id"]


def count_to_export(*, session: Session, since: datetime | None) -> int:
    """How many tickets an export will write (for the progress bar)."""
    query = select(func.count()).select_from(Ticket)
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    return session.scalar(query) or 0
