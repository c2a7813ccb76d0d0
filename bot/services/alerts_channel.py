"""The ops alerts channel, as data: how bad an alert is, what it says, and the outbox rows
that carry announcements and digests there. `bot.blocks` words them when they are delivered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.settings import Settings
from storage.models import OutboxKind
from storage.queries.outbox import enqueue


class Severity(StrEnum):
    """How bad an alert is; Slack shows each as an emoji, so the channel scans at a glance."""

    INFO = "info"
    WARNING = "warning"
    FAILURE = "failure"


def alert_content(
    severity: Severity, headline: str, *, what_to_do: str = "", details: list[str] | None = None
) -> dict[str, Any]:
    """What an alert says, as stored with it so its message can be rebuilt when it repeats."""
    return {
        "severity": severity.name,
        "headline": headline,
        "what_to_do": what_to_do,
        "details": list(details or []),
    }


def queue_for_alerts(
    kind: OutboxKind,
    payload: dict[str, Any],
    *,
    session: Session,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue a `kind` row for TRIAGE_ALERTS_CHANNEL; False when no alerts channel is set."""
    if not settings.alerts_channel:
        return False
    enqueue(kind, session=session, now=now, payload={"channel": settings.alerts_channel, **payload})
    return True
