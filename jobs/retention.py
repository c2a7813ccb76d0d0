"""Retention job: ticket text past TRIAGE_RETENTION_DAYS removed, old outbox rows pruned."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.services.erasure import RetentionRun, retain
from bot.settings import Settings
from storage.database import unit_of_work

log = logging.getLogger(__name__)

BATCH = 500  # tickets per transaction: short write locks, progress kept if stopped midway


def apply_retention(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    now: datetime,
    stop: Callable[[], bool] = lambda: False,
) -> RetentionRun:
    """Erase expired texts batch by batch (each its own transaction) until none are left."""
    erased = pruned = 0
    while not stop():
        with unit_of_work(factory) as session:
            run = retain(session=session, settings=settings, now=now, batch=BATCH)
        erased, pruned = erased + run.erased, pruned + run.pruned
        if run.erased < BATCH:
            break
        log.info("retention progress", extra={"erased": erased})
    if erased or pruned:
        log.info("retention done", extra={"erased": erased, "outbox_pruned": pruned})
    return RetentionRun(erased=erased, pruned=pruned)
