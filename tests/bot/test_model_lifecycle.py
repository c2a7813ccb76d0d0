"""Training a candidate from the database: what it learns from and what it stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.services.importing import import_labelled_rows, read_labelled_csv
from bot.services.models import retrain
from bot.settings import Settings
from storage.models import ModelVersion, Ticket, TicketStatus
from tests.conftest import SAMPLE_HOLDOUT, SAMPLE_TRAIN

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_promoted_model_also_learns_the_held_out_answers_and_sees_unlabelled_tickets(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    holdout, _, _ = read_labelled_csv(SAMPLE_HOLDOUT, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed[:900], session=session, now=START)
        for minute, row in enumerate(holdout[:100]):  # answered later: the newest examples
            answered = START + timedelta(minutes=minute + 1)
            session.add(
                Ticket(
                    text=row.text,
                    created_at=answered,
                    status=TicketStatus.LABELLED,
                    final_label=row.label,
                    decided_by="UALICE",
                    decided_at=answered,
                )
            )
        for row in holdout[100:250]:  # automated, never labelled by a person
            session.add(
                Ticket(
                    text=row.text,
                    created_at=START,
                    status=TicketStatus.AUTO,
                    final_label=row.label,
                    predicted_label=row.label,
                )
            )

    outcome = retrain(factory, settings=settings, now=lambda: START + timedelta(days=1))

    assert outcome.promoted and outcome.holdout_size == 100
    with factory() as session:
        version = session.get(ModelVersion, outcome.version_id)
        assert version is not None
        assert version.n_examples == outcome.n_examples == 1000  # training + held out
        assert version.data_cutoff == START + timedelta(minutes=100)
        assert version.metrics["refit_on_holdout"] is True
        assert version.metrics["unlabelled_scored"] == 150
