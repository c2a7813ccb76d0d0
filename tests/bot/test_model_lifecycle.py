"""Training a candidate from the database: what it learns from and what it stores."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.services.importing import LabelledRow, import_labelled_rows, read_labelled_csv
from bot.services.models import activate_version, gate, retrain
from bot.settings import Settings
from classifier import Metrics, Thresholds
from storage.models import ModelVersion, Ticket, TicketStatus
from storage.queries.model_versions import active_version, active_version_id
from tests.conftest import SAMPLE_HOLDOUT, SAMPLE_TRAIN

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_promoted_model_also_learns_the_held_out_answers_and_sees_unlabelled_tickets(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    holdout, _, _ = read_labelled_csv(SAMPLE_HOLDOUT, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed[:900], session=session, now=START)
        # answered later, a minute apart: the newest examples
        session.add_all(answered(holdout[:100], START + timedelta(minutes=1)))
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
        # training + held out, less the labels screening left out as probably wrong
        assert version.n_examples == outcome.n_examples == 1000 - outcome.screened
        assert outcome.screened < 100
        assert version.data_cutoff == START + timedelta(minutes=100)  # the last answer
        assert version.metrics["refit_on_holdout"] is True
        assert version.metrics["unlabelled_scored"] == 150


def test_a_candidate_stays_a_candidate_when_the_active_model_changed_while_it_trained(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed[:700], session=session, now=START)
    later = lambda: START + timedelta(days=1)  # noqa: E731
    first = retrain(factory, settings=settings, now=later)
    second = retrain(factory, settings=settings, now=later)
    assert first.promoted and second.promoted
    # v1 learned every answer, so none is left to judge v2 on: cross-validation decides
    assert second.holdout_size == 0 and "cross-validation" in second.reason

    def roll_back_meanwhile(stage: str, step: int, total: int) -> None:
        """An admin runs `/triage rollback v1` while the third model trains."""
        with factory.begin() as session:
            if active_version_id(session=session) != first.version_id:
                activate_version(first.version_id, session=session, now=later())

    third = retrain(factory, settings=settings, now=later, progress=roll_back_meanwhile)

    assert not third.promoted and "another version became active" in third.reason
    with factory() as session:
        assert active_version_id(session=session) == first.version_id
        stored = session.get(ModelVersion, third.version_id)
        assert stored is not None and stored.status == "candidate"
        assert "another version became active" in stored.metrics["gate"]


def answered(rows: list[LabelledRow], start: datetime) -> list[Ticket]:
    """Tickets people labelled, one a minute from `start`."""
    return [
        Ticket(
            text=row.text,
            created_at=start + timedelta(minutes=i),
            status=TicketStatus.LABELLED,
            final_label=row.label,
            decided_by="UALICE",
            decided_at=start + timedelta(minutes=i),
        )
        for i, row in enumerate(rows)
    ]


def test_a_retraining_goes_below_the_threshold_in_force_only_on_stricter_evidence(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed, session=session, now=START)
    retrain(factory, settings=settings, now=lambda: START)

    def threshold_replacing(standing: float) -> float:
        """Retrain on the same examples while the model in force has `standing`."""
        with factory.begin() as session:
            active = active_version(session=session)
            assert active is not None
            stored = Thresholds.from_dict(active.thresholds).with_default(standing)
            active.thresholds = stored.to_dict()
        outcome = retrain(factory, settings=settings, now=lambda: START)
        with factory() as session:
            version = session.get(ModelVersion, outcome.version_id)
            assert version is not None
            return Thresholds.from_dict(version.thresholds).default

    below_everything = threshold_replacing(0.0)
    nothing_automated = threshold_replacing(math.inf)
    assert below_everything < nothing_automated < math.inf


def test_the_gate_judges_only_on_answers_the_active_model_never_learned(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    with factory.begin() as session:
        import_labelled_rows(parsed[:800], session=session, now=START)
    first = retrain(factory, settings=settings, now=lambda: START)
    with factory.begin() as session:
        session.add_all(answered(parsed[800:830], START + timedelta(hours=1)))

    second = retrain(factory, settings=settings, now=lambda: START + timedelta(days=1))

    # 10 % of 830 would be 83, but v1 was refit on the first 800: only the 30 new ones count
    assert first.promoted and second.holdout_size == 30
    assert second.incumbent is not None and second.incumbent.n == 30


def metrics(accuracy: float, coverage: float) -> Metrics:
    return Metrics(
        n=100,
        accuracy=accuracy,
        macro_f1=accuracy,
        calibration_error=0.02,
        coverage=coverage,
        auto_precision=0.96,
    )


def test_the_gate_tolerates_a_near_tie_and_refuses_a_clear_loss() -> None:
    active = metrics(0.90, 0.70)
    assert gate(metrics(0.895, 0.695), active, same_target=True)[0]
    promoted, reason = gate(metrics(0.85, 0.60), active, same_target=True)
    assert not promoted and "accuracy 0.850 < 0.900" in reason and "coverage" in reason


def test_coverage_is_compared_only_at_the_same_target_precision() -> None:
    # an admin raised the target: less coverage is what was asked for
    assert gate(metrics(0.90, 0.50), metrics(0.90, 0.70), same_target=False)[0]
    assert not gate(metrics(0.90, 0.50), metrics(0.90, 0.70), same_target=True)[0]


def test_a_pruned_version_cannot_be_rolled_back_to_and_says_why(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        pruned = ModelVersion(
            status="retired", artifact=None, sha256="0" * 64, metrics={}, created_at=START
        )
        session.add(pruned)
        session.flush()
        with pytest.raises(InvalidInput, match="only the newest 10 versions keep their model"):
            activate_version(pruned.id, session=session, now=START)


def test_the_gate_compares_accuracy_corrected_for_wrong_answers() -> None:
    # A point lost on labels a tenth of which are wrong is more than a point of true accuracy.
    active, candidate = metrics(0.81, 0.70), metrics(0.80, 0.70)
    assert gate(candidate, active, same_target=True)[0]
    promoted, reason = gate(candidate, active, same_target=True, label_error=0.1)
    assert not promoted and "accuracy 0.875 < 0.888" in reason
