"""Fully healthy or only able to serve: what `/readyz` reports beyond the database.

A web process with its database can take tickets and Slack clicks ("can serve"); it is
fully healthy only when a worker leads, a model is active, and Slack takes its posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services.worker_health import worker_health
from bot.settings import Settings
from bot.words import duration
from storage.queries.model_versions import active_version_id
from storage.queries.outbox import pending_summary

# Posts failing for this long mean Slack is not taking them (the delivery alert's rule).
DELIVERY_STUCK_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Check:
    """One part of the service: fine or not, and a few words on why."""

    ok: bool
    detail: str


def service_checks(
    *,
    session: Session,
    settings: Settings,
    now: datetime,
    watching_since: datetime,
    slack_enabled: bool,
) -> dict[str, Check]:
    """The checks beyond the database, by name."""
    return {
        "worker": _worker(session=session, settings=settings, now=now, since=watching_since),
        "model": _model(session=session),
        "slack": _slack(session=session, now=now, enabled=slack_enabled),
    }


def _worker(*, session: Session, settings: Settings, now: datetime, since: datetime) -> Check:
    health = worker_health(session=session, settings=settings, now=now)
    if health.leader is not None:
        return Check(True, f"{health.leader} leads")
    without = health.seconds_without_leader(since) or 0.0
    return Check(False, f"no worker has led for {duration(without)}: scheduled jobs wait")


def _model(*, session: Session) -> Check:
    version = active_version_id(session=session)
    if version is None:
        return Check(False, "no active model: every ticket goes to review")
    return Check(True, f"model v{version} active")


def _slack(*, session: Session, now: datetime, enabled: bool) -> Check:
    if not enabled:
        return Check(False, "Slack is not configured: review posts wait in the outbox")
    pending, failing, oldest = pending_summary(session=session)
    if failing and oldest is not None and now - oldest >= DELIVERY_STUCK_AFTER:
        waited = duration((now - oldest).total_seconds())
        return Check(False, f"{failing} of {pending} queued posts failing, oldest waiting {waited}")
    return Check(True, f"{pending} posts queued")
