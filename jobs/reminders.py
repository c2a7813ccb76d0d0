"""Chase pending reviews: one reminder in the ticket's thread, then one escalation to ops.

Each stage is stamped on the ticket (`reminded_at`, `escalated_at`) in the same transaction
that queues the message, so no ticket is reminded or escalated twice for the same stage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity
from bot.services.reminders import queue_reminder
from bot.settings import Settings
from bot.words import counted, duration
from jobs.alerts import raise_alert
from storage.models import Ticket, TicketStatus

# (channel, ts) -> permalink, or None when Slack cannot say (the ticket number is shown then).
Permalink = Callable[[str, str], str | None]
LINKS_IN_ESCALATION = 5


def _waiting(*, session: Session, older_than: datetime) -> list[Ticket]:
    query = (
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.PENDING,
            Ticket.slack_ts.is_not(None),
            Ticket.created_at <= older_than,
        )
        .order_by(Ticket.created_at)
    )
    return list(session.scalars(query))


def send_reminders(*, session: Session, settings: Settings, now: datetime) -> int:
    """A thread reply on each review waiting longer than the reminder delay; never @channel."""
    after = timedelta(minutes=settings.reminder_minutes)
    due = [t for t in _waiting(session=session, older_than=now - after) if t.reminded_at is None]
    for ticket in due:
        ticket.reminded_at = now
        queue_reminder(ticket, session=session, now=now)
    return len(due)


def escalate(*, session: Session, settings: Settings, now: datetime, permalink: Permalink) -> int:
    """Tell ops about reviews newly waiting past the escalation delay; returns how many.

    The alert lists every review waiting that long (oldest first), so when a repeat within
    the cooldown is edited into the posted alert, the message shows the whole current picture.
    """
    after = timedelta(minutes=settings.escalation_minutes)
    overdue = _waiting(session=session, older_than=now - after)
    new = [t for t in overdue if t.escalated_at is None]
    if not new:
        return 0
    links = []
    for ticket in overdue[:LINKS_IN_ESCALATION]:
        url = permalink(ticket.slack_channel or "", ticket.slack_ts or "")
        waited = duration((now - ticket.created_at).total_seconds())
        links.append(
            f"<{url}|Ticket #{ticket.id}> waiting {waited}"
            if url
            else f"Ticket #{ticket.id} waiting {waited}"
        )
    raise_alert(
        "escalation",
        Severity.WARNING,
        f"{counted(len(overdue), 'review')} waiting over {duration(after.total_seconds())}",
        what_to_do="Ask someone to answer them in the review channel, or `/triage queue` "
        "for the list.",
        details=links,
        session=session,
        settings=settings,
        now=now,
    )
    for ticket in new:
        ticket.escalated_at = now
    return len(new)
