"""Post an ops alert through the outbox, at most once per cooldown for the same key."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.blocks.alerts import Severity, build_alert
from bot.services.alerts_channel import post_to_alerts
from bot.settings import Settings
from storage.queries.alerts import claim_alert

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
    """Queue the alert for the alerts channel; False when the rate limit held it back.

    One-off events (a model promoted) pass `rate_limited=False`; conditions that persist
    (a backlog) are rate-limited by `key` so the channel is not flooded.
    """
    log.warning("alert", extra={"key": key, "headline": headline})
    repeats = 0
    if rate_limited:
        cooldown = timedelta(minutes=settings.alert_cooldown_minutes)
        claimed = claim_alert(key, session=session, now=now, cooldown=cooldown)
        if claimed is None:
            return False
        repeats = claimed
    message = build_alert(
        severity, headline, what_to_do=what_to_do, details=details, repeats=repeats
    )
    post_to_alerts(message, session=session, settings=settings, now=now)  # else: logged above
    return True
