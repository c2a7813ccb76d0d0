"""Callbacks given up on (dead letters), and an admin sending them again.

A callback is given up after TRIAGE_CALLBACK_MAX_ATTEMPTS failed attempts or once
TRIAGE_CALLBACK_MAX_AGE_HOURS passed (`bot.delivery`), or at once when its destination is
refused. It then waits, counted in `/triage stats`, until an admin who fixed the receiver
retries it: it is queued again, due now, with its attempts and age counted afresh, and
keeps its event id, so a receiver that did get an earlier attempt can tell.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import NotFound
from bot.services.admin import AdminChange, ChangeKind, announce
from bot.settings import Settings
from storage.models import OutboxKind, Ticket
from storage.queries.outbox import dead_letters, revive
from storage.queries.runtime_settings import record_admin_action


def retry_callbacks(
    ticket_id: int | None, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Queue one ticket's given-up callbacks again (every ticket's when `ticket_id` is None)."""
    if ticket_id is not None and session.get(Ticket, ticket_id) is None:
        raise NotFound(f"There is no ticket {ticket_id}.")
    rows = dead_letters(OutboxKind.CALLBACK, session=session, ticket_id=ticket_id)
    subject = None if ticket_id is None else str(ticket_id)
    change = AdminChange(ChangeKind.CALLBACKS_RETRIED, subject, before=len(rows), after=len(rows))
    if not rows:
        return replace(change, changed=False)
    revive([row.id for row in rows], session=session, now=now)
    record_admin_action(
        action="retry callbacks",
        before={"dead_letters": [row.id for row in rows], "ticket": ticket_id},
        after={"queued": len(rows)},
        session=session,
        actor=actor,
        now=now,
    )
    return announce(change, session=session, settings=settings, actor=actor, now=now)
