"""New topics: the open ones intake matches against, and the tickets that make them up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Review, Ticket, TicketStatus, Topic, TopicStatus

# Topics the active model has not learned yet: arriving tickets like them go to people.
UNLEARNED = (TopicStatus.OPEN, TopicStatus.CREATED)
# A label the model gives at least this many (and this share) of an unlearned topic's
# tickets is being confused with it: it is held back from automation until the topic is
# learned.
CONFUSED_MIN_TICKETS = 2
CONFUSED_MIN_SHARE = 0.25


def open_topics(*, session: Session) -> list[Topic]:
    """Topics waiting for an admin (a label suggestion), oldest first."""
    query = select(Topic).where(Topic.status == TopicStatus.OPEN).order_by(Topic.id)
    return list(session.scalars(query))


def unlearned_topics(*, session: Session) -> list[Topic]:
    """Open topics and those whose label was created but not yet learned, oldest first."""
    query = select(Topic).where(Topic.status.in_(UNLEARNED)).order_by(Topic.id)
    return list(session.scalars(query))


def confused_labels(*, session: Session) -> set[str]:
    """Labels the model gives to a large share of some unlearned topic's tickets."""
    query = (
        select(Ticket.topic_id, Ticket.predicted_label, func.count())
        .join(Topic, Topic.id == Ticket.topic_id)
        .where(Topic.status.in_(UNLEARNED), Ticket.predicted_label.is_not(None))
        .group_by(Ticket.topic_id, Ticket.predicted_label)
    )
    counts: list[tuple[int, str, int]] = [
        (topic, label, n)
        for topic, label, n in session.execute(query)
        if topic is not None and label is not None  # excluded by the query; narrowed here
    ]
    sizes: dict[int, int] = {}
    for topic, _, n in counts:
        sizes[topic] = sizes.get(topic, 0) + n
    return {
        label
        for topic, label, n in counts
        if n >= CONFUSED_MIN_TICKETS and n >= CONFUSED_MIN_SHARE * sizes[topic]
    }


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
            Ticket.erased_at.is_(None),
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
        .where(Ticket.status == TicketStatus.NO_LABEL, Ticket.erased_at.is_(None))
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def unlearned_tickets(*, session: Session, limit: int) -> list[tuple[int, str]]:
    """(id, text) of the newest tickets the active model cannot have learned the label of:
    those people answered "none of these" (the bank the next retraining keeps as "other"),
    and those labelled with a label created from a topic that no model has learned yet.
    Intake consults them meanwhile (`bot.services.policy_cache`)."""
    query = (
        select(Ticket.id, Ticket.text)
        .where(
            (Ticket.status == TicketStatus.NO_LABEL) | Ticket.final_label.in_(_created_labels()),
            Ticket.erased_at.is_(None),
        )
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return [(int(ticket_id), str(text)) for ticket_id, text in session.execute(query)]


def _created_labels() -> Any:
    """The labels created from topics that no promoted model knows yet (a subquery)."""
    return select(Topic.label).where(Topic.status == TopicStatus.CREATED, Topic.label.is_not(None))
