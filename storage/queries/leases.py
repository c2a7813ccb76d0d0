"""Leases: a lock with an expiry, taken by compare-and-set so it works on any database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Lease

SCHEDULER_LEASE = "scheduler"  # held by the worker that runs the scheduled jobs


def acquire_or_renew(
    name: str, holder: str, *, session: Session, now: datetime, ttl: timedelta
) -> bool:
    """Take or extend the lease if it is free, expired, or already ours; True if we hold it."""
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:  # another worker inserted it first
        return False
    return True


def release(name: str, holder: str, *, session: Session) -> None:
    """Give the lease up at once (clean shutdown), if we hold it."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def holder_of(name: str, *, session: Session, now: datetime) -> str | None:
    """Who holds the lease now, or None when it is free or expired."""
    lease = session.get(Lease, name)
    return lease.holder if lease is not None and lease.expires_at >= now else None
