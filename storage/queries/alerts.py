"""Alert rate limiting: post the first occurrence, count repeats within the cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import AlertState


def claim_alert(key: str, *, session: Session, now: datetime, cooldown: timedelta) -> int | None:
    """None if `key` fired within the cooldown (the repeat is counted); otherwise the number
    of repeats held back since the last post, and the clock restarts."""
    state = session.get(AlertState, key, with_for_update=True)
    if state is None:
        session.add(AlertState(key=key, last_sent_at=now, suppressed=0))
        return 0
    if now - state.last_sent_at < cooldown:
        state.suppressed += 1
        return None
    repeats, state.suppressed, state.last_sent_at = state.suppressed, 0, now
    return repeats
