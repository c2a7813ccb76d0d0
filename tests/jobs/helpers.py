"""Small builders for job tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.alerts import build_alert_from
from bot.blocks.changes import build_announcement
from bot.blocks.digest import build_digest
from bot.services.admin import AdminChange
from bot.services.answers import record_answer
from bot.services.digest import DigestFigures
from bot.services.importing import LabelledRow, import_labelled_rows, read_labelled_csv
from storage.models import (
    Alert,
    OutboxKind,
    OutboxMessage,
    Review,
    ReviewKind,
    Ticket,
    TicketStatus,
    TrainingRun,
)
from storage.queries.model_versions import active_version_id
from tests.conftest import SAMPLE_TRAIN
from tests.jobs.conftest import Clock


def add_ticket(factory: sessionmaker[Session], created_at: datetime, **fields: Any) -> int:
    values: dict[str, Any] = {
        "text": "Where is my card?",
        "source": "api",
        "status": TicketStatus.PENDING,
        "decision": "review",
        **fields,
    }
    with factory.begin() as session:
        ticket = Ticket(created_at=created_at, **values)
        session.add(ticket)
        session.flush()
        return ticket.id


def add_answered_audit(
    factory: sessionmaker[Session], now: datetime, *, agree: bool, confidence: float | None = None
) -> int:
    """An automatic card_arrival ticket sampled for audit, answered by U1 (exchange_rate when
    the person disagrees)."""
    ticket_id = add_ticket(
        factory,
        now,
        status=TicketStatus.AUTO,
        decision="audit",
        predicted_label="card_arrival",
        final_label="card_arrival",
        confidence=confidence,
    )
    label = "card_arrival" if agree else "exchange_rate"
    with factory.begin() as session:
        record_answer(ticket_id, user="U1", label=label, quorum=1, session=session, now=now)
    return ticket_id


def shared_history(
    factory: sessionmaker[Session], now: datetime, *, wrong_every: int, tickets: int = 100
) -> None:
    """Tickets U1 and U2 both answered: U2 always right, U1 wrong on every `wrong_every`-th
    (exchange_rate for card_arrival): what shows how often U1's audit answers are wrong."""
    with factory.begin() as session:
        for i in range(tickets):
            ticket = Ticket(
                text=f"shared {i}",
                created_at=now,
                status=TicketStatus.LABELLED,
                decision="review",
                final_label="card_arrival",
                decided_by="U2",
                decided_at=now,
            )
            mine = "exchange_rate" if i % wrong_every == 0 else "card_arrival"
            ticket.reviews = [
                Review(slack_user=user, label=label, kind=ReviewKind.REVIEW, created_at=now)
                for user, label in (("U1", mine), ("U2", "card_arrival"))
            ]
            session.add(ticket)


def alerts(factory: sessionmaker[Session]) -> list[str]:
    """Every alert message as the alerts channel shows it now (repeats edited in), oldest
    first; rendered by the builder the deliverer uses."""
    with factory() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id))
        return [
            str(build_alert_from(a.content, repeats=a.repeats, last_seen=a.last_seen_at)["blocks"])
            for a in rows
        ]


def channel_posts(factory: sessionmaker[Session]) -> list[str]:
    """Digests and announcements queued for the alerts channel, oldest first, rendered by the
    builders the deliverer uses."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_([OutboxKind.DIGEST, OutboxKind.ANNOUNCEMENT]))
            .order_by(OutboxMessage.id)
        )
        return [
            str(
                build_digest(DigestFigures.from_json(row.payload["digest"]))["blocks"]
                if row.kind == OutboxKind.DIGEST
                else build_announcement(
                    AdminChange.from_json(row.payload["change"]), actor=row.payload["actor"]
                )["blocks"]
            )
            for row in rows
        ]


def thread_replies(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.THREAD_REPLY)
        )
        return [row.payload for row in rows]


SMALL_HISTORY = 700  # enough rows for a real model, few enough for a fast test


def sample(path: Path = SAMPLE_TRAIN) -> list[LabelledRow]:
    parsed, _, _ = read_labelled_csv(path, text_column="text", label_column="label")
    return parsed


def import_history(factory: sessionmaker[Session], clock: Clock, rows: int = SMALL_HISTORY) -> None:
    with factory.begin() as session:
        import_labelled_rows(sample()[:rows], session=session, now=clock())


def answer(factory: sessionmaker[Session], clock: Clock, rows: list[tuple[str, str]]) -> None:
    """People answered these (text, label) review tickets, one a second, newest last."""
    with factory.begin() as session:
        for text, label in rows:
            moment = clock.advance(seconds=1)
            ticket = Ticket(
                text=text,
                source="api",
                status=TicketStatus.LABELLED,
                decision="review",
                final_label=label,
                decided_by="U1",
                decided_at=moment,
                created_at=moment,
            )
            session.add(ticket)
            session.add(
                Review(
                    ticket=ticket, slack_user="U1", label=label, kind="review", created_at=moment
                )
            )


def runs(factory: sessionmaker[Session]) -> list[TrainingRun]:
    with factory() as session:
        return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))


def training_has_begun(factory: sessionmaker[Session]) -> bool:
    """A RUNNING run whose heartbeat moved: it reached training's first progress point."""
    return any(r.status == "running" and r.heartbeat_at > r.started_at for r in runs(factory))


def active_id(factory: sessionmaker[Session]) -> int | None:
    with factory() as session:
        return active_version_id(session=session)
