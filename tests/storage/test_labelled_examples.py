"""What retraining learns from: the label people settled on (or imported history), never a
withdrawn or skipped answer and never the model's own guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.services.answers import record_answer, record_skip, undo_answer
from bot.services.importing import LabelledRow, import_labelled_rows
from storage.models import Ticket, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.tickets import labelled_examples

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def new_ticket(
    factory: sessionmaker[Session], text: str, *, audit: bool = False, minutes: float = 0
) -> int:
    """A ticket as intake leaves it: waiting for review, or automated and sampled for audit."""
    fields = (
        {"status": TicketStatus.AUTO, "decision": "audit", "final_label": "card_arrival"}
        if audit
        else {"status": TicketStatus.PENDING, "decision": "review"}
    )
    with factory.begin() as session:
        ticket = Ticket(
            text=text,
            source="api",
            predicted_label="card_arrival",
            created_at=at(minutes),
            **fields,
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def test_training_data_is_the_latest_standing_human_or_imported_label(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate", "top_up"], session=session, now=START)
        import_labelled_rows(
            [LabelledRow("How do I top up?", "top_up", "k1")], session=session, now=at(-60)
        )

    def act(minutes: float, action: str, ticket: int, user: str, label: str = "") -> None:
        with factory.begin() as session:
            if action == "answer":
                outcome = record_answer(
                    ticket, user=user, label=label, quorum=1, session=session, now=at(minutes)
                )
            elif action == "skip":
                outcome = record_skip(ticket, user=user, session=session, now=at(minutes))
            else:
                outcome = undo_answer(ticket, user=user, session=session, now=at(minutes))
        expected = {"answer": "decided", "skip": "skipped", "undo": "undone"}[action]
        assert outcome.status == expected

    changed = new_ticket(factory, "changed my mind")
    act(1, "answer", changed, "U1", "card_arrival")
    act(2, "undo", changed, "U1")
    act(3, "answer", changed, "U2", "exchange_rate")  # the latest answer wins

    withdrawn = new_ticket(factory, "answer taken back")
    act(4, "answer", withdrawn, "U1", "card_arrival")
    act(5, "undo", withdrawn, "U1")  # undone, nobody answered again: not an example

    skipped = new_ticket(factory, "nobody knew")
    act(6, "skip", skipped, "U1")

    new_ticket(factory, "still waiting")  # no answer yet
    with factory.begin() as session:  # the model's own label, not audited
        session.add(
            Ticket(
                text="automatic",
                source="api",
                status=TicketStatus.AUTO,
                decision="auto",
                predicted_label="card_arrival",
                final_label="card_arrival",
                created_at=at(0),
                decided_at=at(0),
            )
        )

    corrected = new_ticket(factory, "audit found it wrong", audit=True)
    act(7, "answer", corrected, "U3", "exchange_rate")  # a person's audit answer beats the model

    audit_undone = new_ticket(factory, "audit answer taken back", audit=True)
    act(8, "answer", audit_undone, "U3", "top_up")
    act(9, "undo", audit_undone, "U3")  # the automatic label stands again: not an example

    with factory() as session:
        examples = labelled_examples(session=session)
    assert [(e.text, e.label, e.decided_at) for e in examples] == [  # oldest answer first
        ("How do I top up?", "top_up", at(-60)),
        ("changed my mind", "exchange_rate", at(3)),
        ("audit found it wrong", "exchange_rate", at(7)),
    ]
