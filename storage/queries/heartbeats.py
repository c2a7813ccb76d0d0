"""Worker heartbeats: each worker records itself at every lease renewal; readers judge them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import WorkerHeartbeat

# A worker gone this long is forgotten; its restarts come back under new process ids.
FORGET_AFTER = timedelta(days=1)


def beat(holder: str, *, host: str, leading: bool, session: Session, now: datetime) -> None:
    """Record that `holder` is alive now, and whether it holds the scheduler lease."""
    row = session.get(WorkerHeartbeat, holder)
    if row is None:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
        row = WorkerHeartbeat(holder=holder, host=host, started_at=now, leading=False)
        session.add(row)
    if leading:
        row.leading_since = row.leading_since if row.leading else now
        row.led_at = now
    else:
        row.leading_since = None
    row.leading, row.beat_at = leading, now


def stopped(holder: str, *, session: Session, now: datetime) -> None:
    """A clean stop: the worker no longer leads; its last lead stays on record."""
    row = session.get(WorkerHeartbeat, holder)
    if row is not None:
        if row.leading:
            row.led_at = now
        row.leading, row.leading_since, row.beat_at = False, None, now


def heartbeat_of(holder: str, *, session: Session) -> WorkerHeartbeat | None:
    """The heartbeat row of one worker."""
    return session.get(WorkerHeartbeat, holder)


def live_workers(*, session: Session, since: datetime) -> list[WorkerHeartbeat]:
    """Workers that beat at or after `since`, newest first."""
    query = (
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.beat_at >= since)
        .order_by(WorkerHeartbeat.beat_at.desc())
    )
    return list(session.scalars(query))


def workers_on(host: str, *, session: Session) -> list[WorkerHeartbeat]:
    """Every worker recorded on `host`, newest beat first."""
    query = (
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.host == host)
        .order_by(WorkerHeartbeat.beat_at.desc())
    )
    return list(session.scalars(query))


def last_led_at(*, session: Session) -> datetime | None:
    """When any worker last held the scheduler lease, or None if none ever did."""
    value: datetime | None = session.scalar(select(func.max(WorkerHeartbeat.led_at)))
    return value
