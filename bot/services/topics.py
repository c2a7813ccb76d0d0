"""New topics: find clusters of novel tickets, suggest a label, create it and re-ask.

A topic is found by the worker (`find_topics`), matched by intake while open (`Policy.topics`
sends similar tickets to people), and closed by an admin (`create_label_from_topic`,
`dismiss_topic`) or by a promoted model that learned its tickets (`settle_learned_topics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.services.admin import AdminChange, ChangeKind, announce
from bot.services.admin_labels import add_label
from bot.settings import Settings
from classifier import embed, mask_sensitive
from classifier.topics import Cluster, find_clusters, keywords, propose_label
from classifier.topics import matching_topic as inside_topic
from storage.models import Label, OutboxKind, Ticket, TicketStatus, Topic, TopicStatus
from storage.queries.outbox import enqueue
from storage.queries.runtime_settings import record_admin_action
from storage.queries.topics import (
    novel_tickets_since,
    open_topics,
    proposed_names,
    topic_by_id,
    topic_tickets,
    unlearned_topics,
)

EXAMPLES = 3
# How a new-topic alert's line of quoted examples starts (erasure finds and removes it).
ALERT_EXAMPLES_PREFIX = "e.g. "
EXAMPLE_CHARS = 80


@dataclass(frozen=True)
class TopicSummary:
    """A topic as alerts, App Home and `/triage labels suggest` show it."""

    topic_id: int
    status: TopicStatus
    proposed_label: str
    keywords: tuple[str, ...]
    tickets: int
    pending: int
    found_at: datetime
    examples: tuple[str, ...]  # masked and shortened ticket texts
    label: str | None = None


@dataclass(frozen=True)
class TopicNews:
    """What one look for topics found: new topics (for an alert) and tickets added to old ones."""

    found: tuple[TopicSummary, ...]
    grown: int


def find_topics(*, session: Session, settings: Settings, now: datetime) -> TopicNews:
    """Cluster the window's novel tickets that belong to no topic yet; attach the ones like
    an open topic to it, and turn every cluster of TRIAGE_TOPIC_MIN_TICKETS into a topic."""
    since = now - timedelta(hours=settings.topic_window_hours)
    loose = [t for t in novel_tickets_since(since, session=session) if t.topic_id is None]
    if not loose:
        return TopicNews((), 0)
    vectors = embed([t.text for t in loose], settings.sentence_encoder)
    grown = _attach_to_open_topics(loose, vectors, session=session, now=now)
    remaining = [i for i, t in enumerate(loose) if t.topic_id is None]
    found = []
    for cluster in find_clusters(vectors[remaining], min_size=settings.topic_min_tickets):
        members = [loose[remaining[i]] for i in cluster.members]
        topic = _new_topic(members, cluster, settings=settings, session=session, now=now)
        found.append(summarise(topic, members))
    return TopicNews(tuple(found), grown)


def _attach_to_open_topics(
    tickets: list[Ticket], vectors: np.ndarray, *, session: Session, now: datetime
) -> int:
    topics = unlearned_topics(session=session)
    if not topics:
        return 0
    inside = inside_topic(
        vectors, np.array([t.centroid for t in topics]), np.array([t.radius for t in topics])
    )
    for ticket, index in zip(tickets, inside, strict=True):
        if index >= 0:
            ticket.topic_id = topics[int(index)].id
            topics[int(index)].updated_at = now
    return int((inside >= 0).sum())


def _new_topic(
    members: list[Ticket],
    cluster: Cluster,
    *,
    settings: Settings,
    session: Session,
    now: datetime,
) -> Topic:
    words = keywords([t.text for t in members], pipeline=settings.spacy_pipeline)
    taken = [*session.scalars(select(Label.name)), *session.scalars(select(Topic.proposed_label))]
    proposed = proposed_names([t.id for t in members], session=session)
    topic = Topic(
        status=TopicStatus.OPEN,
        proposed_label=propose_label(words, taken, proposed),
        keywords=words,
        centroid=[round(float(x), 6) for x in cluster.centroid],
        radius=cluster.radius,
        found_at=now,
        updated_at=now,
    )
    session.add(topic)
    session.flush()
    for ticket in members:
        ticket.topic_id = topic.id
    return topic


def summarise(topic: Topic, tickets: list[Ticket]) -> TopicSummary:
    """The figures and masked examples of a topic."""
    examples = tuple(
        _example(t.text) for t in sorted(tickets, key=lambda t: t.created_at) if t.erased_at is None
    )[:EXAMPLES]
    return TopicSummary(
        topic_id=topic.id,
        status=topic.status,
        proposed_label=topic.proposed_label,
        keywords=tuple(topic.keywords),
        tickets=len(tickets),
        pending=sum(1 for t in tickets if t.status == TicketStatus.PENDING),
        found_at=topic.found_at,
        examples=examples,
        label=topic.label,
    )


def _example(text: str) -> str:
    """A ticket as an alert may quote it: masked, on one line, shortened."""
    line = " ".join(mask_sensitive(text).split())
    return line if len(line) <= EXAMPLE_CHARS else line[: EXAMPLE_CHARS - 1].rstrip() + "…"


def topic_alert_key(topic_id: int) -> str:
    """The alert key of a topic's one new-topic alert."""
    return f"new-topic-{topic_id}"


def topic_suggestions(*, session: Session) -> list[TopicSummary]:
    """Open topics, newest first: the label suggestions admins see."""
    return [
        summarise(topic, topic_tickets(topic.id, session=session))
        for topic in reversed(open_topics(session=session))
    ]


def _open_topic(topic_id: int, *, session: Session) -> Topic:
    topic = topic_by_id(topic_id, session=session)
    if topic is None:
        raise NotFound(f"There is no topic {topic_id}.")
    if topic.status != TopicStatus.OPEN:
        raise InvalidInput(f"Topic {topic_id} is already {topic.status.value}.")
    return topic


def create_label_from_topic(
    topic_id: int,
    name: str | None,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Create the topic's label (its proposed name unless `name`) and re-ask its tickets with
    the label offered first: waiting ones are updated, "none of these" ones asked again."""
    topic = _open_topic(topic_id, session=session)
    label = name or topic.proposed_label
    add_label(label, None, session=session, settings=settings, actor=actor, now=now)
    reasked = 0
    for ticket in topic_tickets(topic.id, session=session):
        if ticket.status == TicketStatus.NO_LABEL and ticket.decided_at is not None:
            for review in ticket.reviews:
                if review.no_label and review.undone_at is None:
                    review.undone_at = now  # superseded: the label they lacked now exists
            ticket.status, ticket.decided_by, ticket.decided_at = TicketStatus.PENDING, None, None
        if ticket.status != TicketStatus.PENDING:
            continue
        ticket.suggestions = [[label, None], *(ticket.suggestions or [])]
        enqueue(OutboxKind.REFRESH_TICKET, session=session, now=now, ticket_id=ticket.id)
        reasked += 1
    topic.status, topic.label = TopicStatus.CREATED, label
    topic.resolved_at, topic.resolved_by = now, actor
    return _topic_change(
        ChangeKind.TOPIC_LABEL_CREATED,
        topic,
        reasked,
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def dismiss_topic(
    topic_id: int, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Not a new kind of ticket: its tickets stay as they are, and similar ones are no longer
    sent to people for resembling it."""
    topic = _open_topic(topic_id, session=session)
    topic.status, topic.resolved_at, topic.resolved_by = TopicStatus.DISMISSED, now, actor
    return _topic_change(
        ChangeKind.TOPIC_DISMISSED,
        topic,
        0,
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def _topic_change(
    kind: ChangeKind,
    topic: Topic,
    reasked: int,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    after = {"topic": topic.id, "status": topic.status.value, "label": topic.label}
    record_admin_action(
        action=kind.value,
        before={"topic": topic.id, "status": TopicStatus.OPEN.value},
        after={**after, "reasked": reasked},
        session=session,
        actor=actor,
        now=now,
    )
    change = AdminChange(kind, topic.label or topic.proposed_label, before=topic.id, after=reasked)
    return announce(change, session=session, settings=settings, actor=actor, now=now)


def settle_learned_topics(
    *, session: Session, data_cutoff: datetime | None, classes: Sequence[str], now: datetime
) -> int:
    """Close the topics a newly promoted model (knowing `classes`) has learned: a created
    topic once the model knows its label; an open one once none of its tickets waits, most
    got a label (not "none of these") and the model trained on every one."""
    settled = 0
    for topic in unlearned_topics(session=session):
        if topic.status == TopicStatus.CREATED:
            if topic.label in set(classes):
                topic.status, topic.resolved_at = TopicStatus.LEARNED, now
                settled += 1
            continue
        tickets = topic_tickets(topic.id, session=session)
        labelled = [t for t in tickets if t.status == TicketStatus.LABELLED]
        waiting = any(t.status == TicketStatus.PENDING for t in tickets)
        learned = data_cutoff is not None and all(
            t.decided_at is not None and t.decided_at <= data_cutoff for t in labelled
        )
        if not waiting and learned and 2 * len(labelled) > len(tickets):
            topic.status, topic.resolved_at = TopicStatus.LEARNED, now
            settled += 1
    return settled
