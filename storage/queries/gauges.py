"""Aggregates the metrics endpoint reads at every scrape: one grouped query per figure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OutboxMessage, Ticket, TicketStatus, TrainingRun, TrainingRunStatus


def tickets_by_source_and_decision(*, session: Session) -> list[tuple[str, str, int]]:
    """(source, decision, count) of tickets that arrived (imported history left out)."""
    query = (
        select(Ticket.source, Ticket.decision, func.count())
        .where(Ticket.status != TicketStatus.IMPORTED)
        .group_by(Ticket.source, Ticket.decision)
    )
    return [
        (source, decision or "none", count) for source, decision, count in session.execute(query)
    ]


def audit_answers(*, session: Session, since: datetime) -> tuple[int, int]:
    """(audits a person answered, of which agreed with the model) for tickets since `since`."""
    answered, agreed = session.execute(
        select(
            func.count(),
            func.count().filter(Ticket.final_label == Ticket.predicted_label),
        ).where(
            Ticket.created_at >= since,
            Ticket.decision == "audit",
            Ticket.decided_by.is_not(None),
        )
    ).one()
    return answered, agreed


def outbox_by_kind(*, session: Session) -> list[tuple[str, int, int, datetime | None]]:
    """(kind, undelivered, of which failed at least once, oldest creation) per kind; dead
    letters are not waiting, so they are left out."""
    query = (
        select(
            OutboxMessage.kind,
            func.count(),
            func.count().filter(OutboxMessage.last_error.is_not(None)),
            func.min(OutboxMessage.created_at),
        )
        .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.dead_at.is_(None))
        .group_by(OutboxMessage.kind)
    )
    return [
        (kind, depth, failing, oldest) for kind, depth, failing, oldest in session.execute(query)
    ]


def finished_training_runs(*, session: Session) -> list[tuple[str, datetime, datetime]]:
    """(status, started, finished) of every finished retraining, for counts and durations."""
    query = select(TrainingRun.status, TrainingRun.started_at, TrainingRun.finished_at).where(
        TrainingRun.finished_at.is_not(None)
    )
    return [
        (status, start, end) for status, start, end in session.execute(query) if end is not None
    ]


def running_trainings(*, session: Session) -> int:
    """Retrainings recorded as running now."""
    count: int = (
        session.scalar(select(func.count()).where(TrainingRun.status == TrainingRunStatus.RUNNING))
        or 0
    )
    return count
