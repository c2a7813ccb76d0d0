"""Erasure and retention: a ticket's text removed everywhere the service stored or posted it.

Erasing keeps the ticket row, its labels, its answers and the figures built on them; it
removes the text, subject and metadata, and queues an edit of every bot message in Slack
that quoted the text (the review message, its full-text reply, route posts) and of a
new-topic alert that quoted it as an example. What people themselves posted (an intake
channel message) is theirs: a bot token cannot edit it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.services.answers import RETRACTS, SENT
from bot.services.topics import ALERT_EXAMPLES_PREFIX, topic_alert_key
from bot.settings import Settings
from storage.models import Alert, OutboxKind, Ticket
from storage.queries.erasure import (
    delivered_for_ticket,
    erase_texts,
    expired_ticket_ids,
    prune_delivered,
)
from storage.queries.outbox import enqueue
from storage.queries.runtime_settings import record_admin_action

# The payload marker of a thread reply holding the whole text of a long ticket.
FULL_TEXT = "full_text"
EXAMPLES_REMOVED = ALERT_EXAMPLES_PREFIX + "(examples removed: a ticket's text was erased)"


@dataclass(frozen=True)
class Erasure:
    """What erasing one ticket did."""

    ticket_id: int
    erased_at: datetime
    slack_edits: int  # bot messages queued for an edit that removes the text
    already: bool  # it had been erased before: nothing changed


@dataclass(frozen=True)
class RetentionRun:
    """One batch of the retention job."""

    erased: int
    pruned: int  # delivered outbox rows deleted


def shows_ticket_text(kind: OutboxKind, payload: Mapping[str, Any]) -> bool:
    """Whether the Slack message a delivery posts quotes its ticket's text, so the place it
    was posted must be kept for an erasure to edit (route posts, the full-text reply)."""
    return kind == OutboxKind.ROUTE or (
        kind == OutboxKind.THREAD_REPLY and bool(payload.get(FULL_TEXT))
    )


def find_ticket(
    *,
    session: Session,
    ticket_id: int | None = None,
    source: str | None = None,
    external_id: str | None = None,
) -> Ticket:
    """The ticket by id, or by the helpdesk's (source, external id)."""
    if ticket_id is not None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"There is no ticket {ticket_id}.")
        return ticket
    if not source or not external_id:
        raise InvalidInput("Name the ticket by its id, or by its source and external id.")
    query = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"There is no ticket from {source} with external id {external_id}.")
    return found


def erase_ticket(ticket: Ticket, *, session: Session, now: datetime, actor: str) -> Erasure:
    """Remove the ticket's text everywhere; idempotent (a second erasure changes nothing)."""
    if ticket.erased_at is not None:
        return Erasure(ticket.id, ticket.erased_at, 0, already=True)
    erase_texts([ticket.id], session=session, now=now)
    session.refresh(ticket)
    edits = 0
    if ticket.slack_ts is not None:  # the review or audit message: re-rendered without text
        enqueue(OutboxKind.REFRESH_TICKET, session=session, now=now, ticket_id=ticket.id)
        edits += 1
    delivered = delivered_for_ticket(ticket.id, session=session)
    retracted = {row.payload[RETRACTS] for row in delivered if RETRACTS in row.payload}
    for row in delivered:
        sent = row.payload.get(SENT)
        if sent is None or row.id in retracted or not shows_ticket_text(row.kind, row.payload):
            continue  # nothing posted, or an undo already replaced it with a notice
        queue_erase_edit(ticket.id, row.kind, sent, session=session, now=now)
        edits += 1
    if ticket.topic_id is not None:
        edits += _scrub_topic_alert(ticket.topic_id, session=session, now=now)
    record_admin_action(
        action="erase ticket",
        before=None,
        after={"ticket": ticket.id, "source": ticket.source, "external_id": ticket.external_id},
        session=session,
        actor=actor,
        now=now,
    )
    return Erasure(ticket.id, now, edits, already=False)


def queue_erase_edit(
    ticket_id: int, kind: OutboxKind, sent: Mapping[str, Any], *, session: Session, now: datetime
) -> None:
    """Queue the edit that removes the text from one posted message (`sent`: channel, ts).

    The deliverer also calls it for a post that was rendered before the ticket was erased
    and answered after: the erasure could not see that message yet.
    """
    was = "route" if kind == OutboxKind.ROUTE else FULL_TEXT
    enqueue(
        OutboxKind.ERASE_MESSAGE,
        session=session,
        now=now,
        ticket_id=ticket_id,
        payload={"channel": sent["channel"], "ts": sent["ts"], "was": was},
    )


def _scrub_topic_alert(topic_id: int, *, session: Session, now: datetime) -> int:
    """Take the quoted examples out of the topic's alert, and edit its message to match."""
    alerts = session.scalars(select(Alert).where(Alert.key == topic_alert_key(topic_id)))
    edited = 0
    for alert in alerts:
        details = list(alert.content.get("details") or [])
        scrubbed = [EXAMPLES_REMOVED if d.startswith(ALERT_EXAMPLES_PREFIX) else d for d in details]
        if scrubbed == details:
            continue
        alert.content = {**alert.content, "details": scrubbed}
        if alert.slack_ts is not None:
            enqueue(OutboxKind.ALERT, session=session, now=now, payload={"alert_id": alert.id})
            edited += 1
    return edited


def retain(
    *, session: Session, settings: Settings, now: datetime, batch: int = 500
) -> RetentionRun:
    """One batch of retention: erase up to `batch` tickets older than TRIAGE_RETENTION_DAYS
    and prune outbox rows delivered more than TRIAGE_OUTBOX_KEEP_DAYS ago.

    Review and route messages in Slack are left to the workspace's own retention policy:
    editing every expired message would flood Slack's rate limits on the first run over a
    long history. New-topic alerts quoting an expired ticket (a handful) are edited.
    """
    erased = 0
    if settings.retention_days is not None:
        before = now - timedelta(days=settings.retention_days)
        ids = expired_ticket_ids(before, session=session, limit=batch)
        erased = erase_texts(ids, session=session, now=now)
        for topic_id in _topics_of(ids, session=session):
            _scrub_topic_alert(topic_id, session=session, now=now)
    pruned = prune_delivered(now - timedelta(days=settings.outbox_keep_days), session=session)
    return RetentionRun(erased=erased, pruned=pruned)


def _topics_of(ticket_ids: list[int], *, session: Session) -> set[int]:
    if not ticket_ids:
        return set()
    query = select(Ticket.topic_id).where(Ticket.id.in_(ticket_ids), Ticket.topic_id.is_not(None))
    return {topic_id for topic_id in session.scalars(query) if topic_id is not None}
