"""The one way anything reaches the ops alerts channel: a message queued in the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.settings import Settings
from storage.models import OutboxKind
from storage.queries.outbox import enqueue


def post_to_alerts(
    message: dict[str, Any], *, session: Session, settings: Settings, now: datetime
) -> bool:
    """Queue `message` for TRIAGE_ALERTS_CHANNEL; False when no alerts channel is set."""
    if not settings.alerts_channel:
        return False
    enqueue(
        OutboxKind.CHANNEL_MESSAGE,
        session=session,
        now=now,
        payload={"channel": settings.alerts_channel, **message},
    )
    return True
