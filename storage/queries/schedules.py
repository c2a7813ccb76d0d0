"""Scheduled slots: what the worker's daily jobs already ran for, kept in the database.

The schedule itself comes from settings at every start; only the last slot each job ran for
outlives a worker, so a new leader catches up a missed run exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import ScheduleSlot


def claim_slot(job: str, slot: datetime, *, session: Session, now: datetime) -> bool:
    """Move `job`'s last slot to `slot`; True when this call moved it (the job runs now).

    A compare-and-set: of two workers claiming the same slot, one wins. A job's first claim
    only records `slot` and returns False: a job that never ran has nothing to catch up.
    """
    moved = session.execute(
        update(ScheduleSlot)
        .where(ScheduleSlot.job == job, ScheduleSlot.slot < slot)
        .values(slot=slot, claimed_at=now)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(ScheduleSlot, job) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ScheduleSlot(job=job, slot=slot, claimed_at=now))
    except IntegrityError:  # another worker recorded the first slot at the same moment
        pass
    return False
