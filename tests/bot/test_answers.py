"""Answer rules without Slack: quorum, unknown labels, undo window, skips."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.services.answers import (
    AnswerOutcome,
    AnswerStatus,
    record_answer,
    record_skip,
    undo_answer,
)
from storage.models import OutboxMessage, Review, Ticket, TicketStatus
from storage.queries.labels import ensure_labels

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def pending_ticket(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=NOW)
        ticket = Ticket(
            text="Where is my card?",
            source="api",
            created_at=NOW,
            status=TicketStatus.PENDING,
            decision="review",
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def test_quorum_of_two_needs_two_matching_answers(factory: sessionmaker[Session]) -> None:
    ticket_id = pending_ticket(factory)
    with factory.begin() as session:
        first = record_answer(
            ticket_id, user="U1", label="card_arrival", quorum=2, session=session, now=NOW
        )
        other = record_answer(
            ticket_id, user="U2", label="exchange_rate", quorum=2, session=session, now=NOW
        )
        again = record_answer(
            ticket_id, user="U1", label="exchange_rate", quorum=2, session=session, now=NOW
        )
        final = record_answer(
            ticket_id, user="U3", label="card_arrival", quorum=2, session=session, now=NOW
        )
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.status, ticket.final_label, ticket.decided_by) == (
            "labelled",
            "card_arrival",
            "U3",
        )
    assert [o.status for o in (first, other, again, final)] == [
        AnswerStatus.RECORDED,
        AnswerStatus.RECORDED,
        AnswerStatus.DUPLICATE,
        AnswerStatus.DECIDED,
    ]


def test_unknown_label_and_missing_ticket(factory: sessionmaker[Session]) -> None:
    ticket_id = pending_ticket(factory)
    with factory.begin() as session:
        assert (
            record_answer(
                ticket_id, user="U1", label="nope", quorum=1, session=session, now=NOW
            ).status
            == AnswerStatus.UNKNOWN_LABEL
        )
        assert (
            record_answer(
                999, user="U1", label="card_arrival", quorum=1, session=session, now=NOW
            ).status
            == AnswerStatus.NOT_FOUND
        )
        assert (
            record_skip(ticket_id, user="U1", session=session, now=NOW).status
            == AnswerStatus.SKIPPED
        )
        assert (
            record_skip(ticket_id, user="U1", session=session, now=NOW).status
            == AnswerStatus.DUPLICATE
        )


def test_undo_is_refused_after_five_minutes(factory: sessionmaker[Session]) -> None:
    ticket_id = pending_ticket(factory)
    with factory.begin() as session:
        record_answer(
            ticket_id, user="U1", label="card_arrival", quorum=1, session=session, now=NOW
        )
        late = undo_answer(ticket_id, user="U1", session=session, now=NOW + timedelta(minutes=6))
        assert late.status == AnswerStatus.TOO_LATE
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.final_label == "card_arrival"
        # The decision queued an immediate refresh and one just after the undo window.
        dues = sorted(
            m.due_at for m in session.query(OutboxMessage).filter_by(kind="refresh_ticket")
        )
        assert dues[0] == NOW and NOW + timedelta(minutes=5) < dues[1] <= NOW + timedelta(minutes=6)


def answer_together(
    factory: sessionmaker[Session], ticket_id: int, people: dict[str, str]
) -> list[AnswerOutcome]:
    """Every person's label for the ticket, each in its own thread and transaction, released
    at the same instant by a barrier."""
    barrier = threading.Barrier(len(people))

    def answer(user: str) -> AnswerOutcome:
        barrier.wait(timeout=10)
        with factory.begin() as session:
            return record_answer(
                ticket_id, user=user, label=people[user], quorum=1, session=session, now=NOW
            )

    with ThreadPoolExecutor(len(people)) as pool:
        return list(pool.map(answer, people))


def test_people_answering_at_the_same_instant_end_in_one_decision(
    factory: sessionmaker[Session],
) -> None:
    """Each round releases four answers at once on a barrier: exactly one may decide.

    PostgreSQL: without the row lock (FOR UPDATE) every answer reads the ticket as pending
    and each "decides" it. SQLite: FOR UPDATE is not emitted; BEGIN IMMEDIATE is the lock,
    and without it the writers collide ("database is locked") instead of queueing.
    """
    people = {"U1": "card_arrival", "U2": "exchange_rate", "U3": "lost_or_stolen_card"}
    people["U4"] = "card_delivery_estimate"
    with factory.begin() as session:
        ensure_labels(sorted(people.values()), session=session, now=NOW)
    for _ in range(10):
        ticket_id = pending_ticket(factory)
        outcomes = answer_together(factory, ticket_id, people)
        [winner] = [o for o in outcomes if o.status == AnswerStatus.DECIDED]
        assert [o.status for o in outcomes].count(AnswerStatus.ALREADY_DECIDED) == 3
        assert {(o.label, o.decided_by) for o in outcomes} == {(winner.label, winner.decided_by)}
        with factory() as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            assert (ticket.final_label, ticket.decided_by) == (winner.label, winner.decided_by)
            answers = session.scalars(select(Review).where(Review.ticket_id == ticket_id))
            assert [(r.slack_user, r.label) for r in answers] == [(winner.decided_by, winner.label)]
