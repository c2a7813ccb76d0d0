"""Raise an ops alert: a new message, or a repeat counted into the one already posted."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity, alert_content
from bot.settings import Settings
from storage.models import OutboxKind
from storage.queries.alerts import record_alert
from storage.queries.outbox import enqueue

log = logging.getLogger(__name__)


def raise_alert(
    key: str,
    severity: Severity,
    headline: str,
    *,
    what_to_do: str = "",
    details: list[str] | None = None,
    session: Session,
    settings: Settings,
    now: datetime,
    rate_limited: bool = True,
) -> bool:
    """Queue the alert for the alerts channel; False when it repeats a recent one.

    One-off events (a model promoted) pass `rate_limited=False` and always get a message;
    conditions that persist (a backlog) are rate-limited by `key`: within the cooldown a
    repeat edits the posted message ("happened 3 more times") instead of flooding the channel.
    The message is rendered when it is delivered, so it always shows the newest count.
    """
    log.info("alert", extra={"key": key, "severity": severity.name.lower(), "headline": headline})
    content = alert_content(severity, headline, what_to_do=what_to_do, details=details)
    cooldown = timedelta(minutes=settings.alert_cooldown_minutes) if rate_limited else None
    alert, new = record_alert(key, content, session=session, now=now, cooldown=cooldown)
    if settings.alerts_channel:  # else: logged above, and kept in the alerts table
        enqueue(OutboxKind.ALERT, session=session, now=now, payload={"alert_id": alert.id})
    return new
