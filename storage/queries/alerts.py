"""Alert rate limiting: the first occurrence gets a message, repeats are counted into it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Alert, AlertState


def record_alert(
    key: str,
    content: dict[str, Any],
    *,
    session: Session,
    now: datetime,
    cooldown: timedelta | None,
) -> tuple[Alert, bool]:
    """The alert message `content` belongs in, and whether it is a new one.

    Within `cooldown` of the key's last new message the occurrence is a repeat: that message
    takes the newest content and counts it. `cooldown=None` (a one-off event) always makes a
    new message. The key's state row is locked, so two raisers cannot both post.
    """
    state = session.get(AlertState, key, with_for_update=True) if cooldown else None
    current = None
    if state is not None and state.alert_id is not None and cooldown is not None:
        recent = now - state.last_sent_at < cooldown
        current = session.get(Alert, state.alert_id) if recent else None
    if current is not None:
        current.content, current.last_seen_at = content, now
        current.repeats += 1
        return current, False
    alert = Alert(key=key, content=content, repeats=0, raised_at=now, last_seen_at=now)
    session.add(alert)
    session.flush()
    if cooldown is not None:
        if state is None:
            session.add(AlertState(key=key, last_sent_at=now, alert_id=alert.id))
        else:
            state.last_sent_at, state.alert_id = now, alert.id
    return alert, True


def claim_announcement(
    key: str, *, session: Session, now: datetime, unless_since: datetime
) -> bool:
    """Take the right to announce `key` now, unless it was announced at or after `unless_since`.

    For alerts said once per episode (an outage) rather than once per cooldown. The state
    row is locked, or inserted under its primary key, so of several processes one wins.
    """
    state = session.get(AlertState, key, with_for_update=True)
    if state is None:
        try:
            with session.begin_nested():
                session.add(AlertState(key=key, last_sent_at=now, alert_id=None))
        except IntegrityError:
            return False
        return True
    if state.last_sent_at >= unless_since:
        return False
    state.last_sent_at = now
    return True


def announced_at(key: str, *, session: Session) -> datetime | None:
    """When `key` was last announced, if ever."""
    state = session.get(AlertState, key)
    return None if state is None else state.last_sent_at
