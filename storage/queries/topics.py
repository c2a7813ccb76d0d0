"""New topics: the open ones intake matches against, and the tickets that make them up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Review, Ticket, TicketStatus, Topic, TopicStatus


def open_topics(*, session: Session) -> list[Topic]:
    """Topics still being learned, oldest first."""
    query = select(Topic).where(Topic.status == TopicStatus.OPEN).order_by(Topic.id)
    return list(session.scalars(query))


def topic_by_id(topic_id: int, *, session: Session) -> Topic | None:
    """One topic, or None."""
    return session.get(Topic, topic_id)


def topic_tickets(topic_id: int, *, session: Session) -> list[Ticket]:
    """The tickets of a topic, oldest first."""
    query = select(Ticket).where(Ticket.topic_id == topic_id).order_by(Ticket.id)
    return list(session.scalars(query))


def novel_tickets_since(since: datetime, *, session: Session) -> list[Ticket]:
    """Tickets since `since` that were novel or that a person said no label fits."""
    query = (
        select(Ticket)
        .where(
            Ticket.created_at >= since,
            (Ticket.novel.is_(True)) | (Ticket.status == TicketStatus.NO_LABEL),
        )
        .order_by(Ticket.id)
    )
    return list(session.scalars(query))


def proposed_names(ticket_ids: Sequence[int], *, session: Session) -> list[str]:
    """Label names people proposed when they answered "none of these" for these tickets."""
    if not ticket_ids:
        return []
    query = select(Review.proposed_label).where(
        Review.ticket_id.in_(list(ticket_ids)),
        Review.no_label.is_(True),
        Review.undone_at.is_(None),
        Review.proposed_label.is_not(None),
    )
    return [name for name in session.scalars(query) if name]


def no_label_texts(*, session: Session, limit: int) -> list[str]:
    """Texts of the most recent tickets people said no label fits (the novelty side learns
    them as "other"); outside open topics' tickets too, and never as a label."""
    query = (
        select(Ticket.text)
        .where(Ticket.status == TicketStatus.NO_LABEL)
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
