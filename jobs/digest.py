"""The daily digest job: claim the day's slot, compute its figures and queue them as data.

The slot is the latest `TRIAGE_DIGEST_HOUR`:00 UTC. Claiming it in the database is what keeps
a digest from being skipped or doubled across a leader change: the daily trigger claims it on
time, and a leader that starts after a missed slot claims it at once, late; a slot claimed
already is never sent again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services.alerts_channel import queue_for_alerts
from bot.services.digest import digest_figures
from bot.settings import Settings
from storage.models import OutboxKind
from storage.queries.schedules import claim_slot

DIGEST_JOB = "digest"


def digest_slot(now: datetime, hour: int) -> datetime:
    """The latest daily digest time at or before `now`."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


def post_digest(
    *, session: Session, settings: Settings, now: datetime, day_ending: datetime | None = None
) -> bool:
    """Queue the digest of the day up to `day_ending` (default `now`); False when there is no
    channel to post to."""
    if not settings.alerts_channel:
        return False
    figures = digest_figures(session=session, settings=settings, now=day_ending or now)
    return queue_for_alerts(
        OutboxKind.DIGEST,
        {"digest": figures.to_json()},
        session=session,
        settings=settings,
        now=now,
    )


def send_due_digest(*, session: Session, settings: Settings, now: datetime) -> bool:
    """Queue the digest for the latest slot unless one was queued for it already.

    A late digest reports the same day as an on-time one would: the 24 hours up to its slot.
    """
    slot = digest_slot(now, settings.digest_hour)
    if not claim_slot(DIGEST_JOB, slot, session=session, now=now):
        return False
    return post_digest(session=session, settings=settings, now=now, day_ending=slot)
