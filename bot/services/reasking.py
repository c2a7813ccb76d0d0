"""A second look at labels retraining's screening judged most likely wrong, a few a day.

Confident learning (`classifier.label_noise`) leaves suspect labels out of the fit; the
surest of them that one person gave are also asked again: their review message turns back
into a blind second opinion (`bot.services.second_opinions`). It is edited in place, not
posted anew, so an erasure still finds every message that quoted the ticket. A second
answer that agrees confirms the label (two people gave it: never screened again); a
disagreement goes to a third person and then an admin, and a changed label corrects its
route post and callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services.second_opinions import SecondOpinion
from storage.models import OutboxKind, OutboxMessage, Ticket, TicketStatus
from storage.queries.outbox import enqueue

REASK = "reask"  # outbox payload key on the review-message edit of a label asked again
DAY = timedelta(days=1)


def reasked_today(*, session: Session, now: datetime) -> int:
    """Labels sent back for a second look in the last 24 hours."""
    query = select(OutboxMessage.payload).where(
        OutboxMessage.kind == OutboxKind.REFRESH_TICKET, OutboxMessage.created_at > now - DAY
    )
    return sum(1 for payload in session.scalars(query) if (payload or {}).get(REASK))


def reask_suspects(
    ticket_ids: Sequence[int], *, session: Session, per_day: int, now: datetime
) -> list[int]:
    """Ask again about the first of `ticket_ids` (most likely wrong first) that one person
    labelled and nobody checked yet, within `per_day` in any 24 hours; return those asked."""
    room = per_day - reasked_today(session=session, now=now)
    if room <= 0 or not ticket_ids:
        return []
    rows = {
        t.id: t
        for t in session.scalars(
            select(Ticket).where(Ticket.id.in_(list(ticket_ids))).with_for_update()
        )
    }
    asked: list[int] = []
    for ticket_id in ticket_ids:
        ticket = rows.get(ticket_id)
        if len(asked) >= room:
            break
        if ticket is None or not _worth_asking(ticket):
            continue
        ticket.second_opinion = SecondOpinion.SCREENED
        enqueue(
            OutboxKind.REFRESH_TICKET,
            session=session,
            now=now,
            ticket_id=ticket.id,
            payload={REASK: True},
        )
        asked.append(ticket.id)
    return asked


def _worth_asking(ticket: Ticket) -> bool:
    """Labelled by exactly one person in its review message, never looked at twice, its
    text still there."""
    givers = {r.slack_user for r in ticket.reviews if r.undone_at is None and r.label is not None}
    return (
        ticket.status == TicketStatus.LABELLED
        and ticket.second_opinion is None
        and ticket.erased_at is None
        and ticket.slack_ts is not None
        and len(givers) == 1
    )


def count_reasked(*, session: Session) -> int:
    """Labels ever sent back for a second look (still open or settled)."""
    query = select(func.count()).where(
        Ticket.second_opinion.in_([SecondOpinion.SCREENED, SecondOpinion.RECHECKED])
    )
    return session.scalar(query) or 0
