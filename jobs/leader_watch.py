"""The check the web process runs for the worker: ops hear once when no worker has led.

The worker cannot report its own absence, so every web process watches the lease. Each
outage is announced once, at most once per alert cooldown if workers keep flapping, and a
worker leading again is announced once after it. The announcement is claimed in the
database first, so several web processes never post the same news twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity
from bot.services.worker_health import worker_health
from bot.settings import Settings
from bot.words import duration
from jobs.alerts import raise_alert
from storage.queries.alerts import announced_at, claim_announcement

NO_LEADER = "worker-no-leader"
LEADER_BACK = "worker-leader-back"


def check_worker_leader(
    *, session: Session, settings: Settings, now: datetime, watching_since: datetime
) -> str | None:
    """Alert when no worker has led for the setting's minutes, or when one leads again after
    that alert; return the key of the alert queued, if any. `watching_since` (this process's
    start) stands in for the last lead when no worker has ever led."""
    health = worker_health(session=session, settings=settings, now=now)
    if health.leader is not None:
        outage = announced_at(NO_LEADER, session=session)
        if outage is None:
            return None
        if not claim_announcement(LEADER_BACK, session=session, now=now, unless_since=outage):
            return None
        raise_alert(
            LEADER_BACK,
            Severity.INFO,
            f"A worker leads again: {health.leader}",
            what_to_do="Nothing: the scheduled jobs run again from now.",
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )
        return LEADER_BACK
    started = health.last_led_at or watching_since
    if now - started < timedelta(minutes=settings.no_leader_alert_minutes):
        return None
    # Said already if announced during this outage, or within the cooldown (a flapping worker).
    said_since = min(started, now - timedelta(minutes=settings.alert_cooldown_minutes))
    if not claim_announcement(NO_LEADER, session=session, now=now, unless_since=said_since):
        return None
    last = (
        f"The last leader beat at {health.last_led_at:%Y-%m-%d %H:%M} UTC."
        if health.last_led_at is not None
        else "No worker has led since this web process started."
    )
    raise_alert(
        NO_LEADER,
        Severity.FAILURE,
        f"No worker has led for {duration((now - started).total_seconds())}: retraining, "
        "reminders, alert checks and the digest are not running",
        what_to_do="Start `triage worker` (the Procfile's worker) or read its logs: it must "
        "reach the database. Tickets and Slack answers are still taken.",
        details=[last, f"Standby workers alive: {len(health.standby)}"],
        session=session,
        settings=settings,
        now=now,
        rate_limited=False,
    )
    return NO_LEADER
