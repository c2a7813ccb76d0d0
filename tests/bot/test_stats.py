"""The statistics module on hand-made rows: percentiles, confusion pairs, audit intervals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.commands import reviewer_line
from bot.services.reliability import audit_answer_error, reviewer_reliability
from bot.services.stats import (
    ReviewerStats,
    percentile,
    reviewer_stats,
    service_stats,
)
from classifier import wilson_interval
from classifier.thresholds import corrected_precision
from storage.models import Review, Ticket, TicketStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ticket(session: Session, *, age_hours: float, **fields: Any) -> Ticket:
    created = NOW - timedelta(hours=age_hours)
    row = Ticket(text="t", source="api", created_at=created, **fields)
    session.add(row)
    session.flush()
    return row


def reviewed(
    session: Session, *, age_hours: float, predicted: str, final: str, by: str, after_s: float
) -> Ticket:
    row = ticket(
        session,
        age_hours=age_hours,
        status=TicketStatus.LABELLED,
        decision="review",
        predicted_label=predicted,
        final_label=final,
        decided_by=by,
    )
    row.decided_at = row.created_at + timedelta(seconds=after_s)
    session.add(
        Review(ticket=row, slack_user=by, label=final, kind="review", created_at=row.decided_at)
    )
    return row


def audit(
    session: Session,
    *,
    predicted: str,
    answer: str | None,
    by: str = "UAUD",
    confidence: float | None = None,
) -> Ticket:
    row = ticket(
        session,
        age_hours=5,
        status=TicketStatus.AUTO,
        decision="audit",
        predicted_label=predicted,
        final_label=answer or predicted,
        decided_by=by if answer else None,
        decided_at=NOW - timedelta(hours=4),
        confidence=confidence,
    )
    if answer:
        session.add(
            Review(ticket=row, slack_user=by, label=answer, kind="audit", created_at=row.decided_at)
        )
    return row


def test_percentiles_interpolate_between_ranks() -> None:
    values = [50.0, 10.0, 40.0, 20.0, 30.0]
    assert percentile(values, 0.5) == 30.0
    assert percentile(values, 0.9) == pytest.approx(46.0)
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_service_stats_on_a_known_week(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        for predicted, answer in [("a", "a"), ("a", "a"), ("b", "b"), ("b", "c")]:
            audit(session, predicted=predicted, answer=answer)
        audit(session, predicted="a", answer=None)  # sampled, not answered yet
        ticket(session, age_hours=2, status=TicketStatus.AUTO, decision="auto", final_label="a")
        for i, seconds in enumerate([60, 120, 180, 240, 600]):
            final = "c" if i < 3 else "b"
            reviewed(
                session, age_hours=10 + i, predicted="b", final=final, by="UREV", after_s=seconds
            )
        ticket(session, age_hours=30, status=TicketStatus.PENDING, decision="review")
        ticket(session, age_hours=1, status=TicketStatus.PENDING, decision="review")
        ticket(session, age_hours=24 * 20, status=TicketStatus.PENDING, decision="review")
        ticket(
            session, age_hours=24 * 20, status=TicketStatus.AUTO, decision="auto", final_label="a"
        )
        ticket(
            session, age_hours=3, status=TicketStatus.IMPORTED, final_label="a", decided_by="csv"
        )

    with factory() as session:
        week = service_stats(session=session, now=NOW, days=7)
        month = service_stats(session=session, now=NOW, days=30)

    assert week.tickets_in == 5 + 1 + 5 + 2
    assert (week.automated, week.audited, week.reviewed) == (6, 5, 5)
    assert week.automation_rate == pytest.approx(6 / 13)
    assert (week.audit_total, week.audit_correct, week.audit_precision) == (4, 3, 0.75)
    assert week.audit_interval == pytest.approx(wilson_interval(3, 4))
    assert week.review_latency_p50 == 180.0
    assert week.review_latency_p90 == pytest.approx(240 + 0.6 * 360)
    assert (week.pending, week.oldest_pending_at) == (3, NOW - timedelta(days=20))
    assert week.per_label == {"a": 4, "c": 4, "b": 3}
    assert week.confused_pairs == [("b", "c", 4)]
    assert month.tickets_in == 15 and month.automated == 7


def test_audit_estimate_is_powered_by_the_confidence_of_every_automated_ticket(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        for answer in ("a", "a", "a", "b"):  # 3 of 4 audits agree, each at 80% confidence
            audit(session, predicted="a", answer=answer, confidence=0.8)
        audit(session, predicted="a", answer=None, confidence=0.8)  # not answered yet
        for _ in range(10):
            ticket(
                session,
                age_hours=2,
                status=TicketStatus.AUTO,
                decision="auto",
                predicted_label="a",
                final_label="a",
                confidence=0.9,
            )
        ticket(session, age_hours=2, status=TicketStatus.PENDING, decision="review", confidence=0.4)
        old = {"status": TicketStatus.AUTO, "decision": "auto", "confidence": 0.1}
        ticket(session, age_hours=24 * 20, **old)

    with factory() as session:
        week = service_stats(session=session, now=NOW, days=7)

    powered = week.audit_powered
    assert powered is not None and (powered.labelled, powered.predicted) == (4, 15)
    mean_confidence = (10 * 0.9 + 5 * 0.8) / 15  # the review and the old ticket do not count
    rectifier = (3 * (1 - 0.8) + (0 - 0.8)) / 4
    assert powered.mean_prediction == pytest.approx(mean_confidence)
    assert powered.rectifier == pytest.approx(rectifier)
    assert powered.estimate == pytest.approx(mean_confidence + rectifier)
    assert powered.low < powered.estimate < powered.high
    assert week.audit_precision == 0.75  # the plain share stays alongside
    assert week.audit_label_error is not None  # UAUD was never checked against anyone: 0
    assert week.audit_estimate == pytest.approx((powered.estimate, powered.low, powered.high))
    corrected = replace(week, audit_label_error=0.05).audit_estimate
    assert corrected is not None
    assert corrected == pytest.approx(
        tuple(corrected_precision(v, 0.05) for v in (powered.estimate, powered.low, powered.high))
    )
    assert corrected[0] > powered.estimate


def test_only_an_audit_settled_on_one_persons_contradiction_counts_as_maybe_wrong(
    factory: sessionmaker[Session],
) -> None:
    """A wrong answer that agrees with the automatic label cannot make it look wrong, and a
    contradiction a second person confirmed is taken as right: of four settled audits, only
    Ann's lone "b" may have wronged the model, at Ann's least error (her one lone audit's
    worth); Bob's two lone audits agree, so none of his expected errors is counted."""
    with factory.begin() as session:
        audit(session, predicted="a", answer="b", by="UANN")  # alone against the model
        confirmed = audit(session, predicted="a", answer="b", by="UANN")
        session.add(
            Review(ticket=confirmed, slack_user="UBOB", label="b", kind="audit", created_at=NOW)
        )
        checked = audit(session, predicted="a", answer="a", by="UBOB")
        session.add(
            Review(ticket=checked, slack_user="UANN", label="c", kind="audit", created_at=NOW)
        )
        audit(session, predicted="a", answer="a", by="UBOB")  # alone, agreeing
        audit(session, predicted="a", answer=None)  # not answered yet

    with factory() as session:
        error = audit_answer_error(session=session, now=NOW, days=7)
        ann = reviewer_reliability(session=session, now=NOW, days=7, model_priors=False)["UANN"]
    assert 1.0 - ann.interval[1] > 0  # Ann was shown wrong once, on Bob's ticket
    assert error == pytest.approx((1.0 - ann.interval[1]) / 4)


def test_empty_window_has_no_rates(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        empty = service_stats(session=session, now=NOW, days=1)
    assert empty.tickets_in == 0 and empty.automation_rate is None
    assert empty.audit_precision is None and empty.audit_interval is None
    assert empty.audit_powered is None and empty.audit_estimate is None
    assert empty.review_latency_p50 is None and empty.confused_pairs == []


def test_reviewer_stats_count_agreement_and_response_time(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        reviewed(session, age_hours=3, predicted="a", final="a", by="UALICE", after_s=60)
        reviewed(session, age_hours=4, predicted="a", final="b", by="UALICE", after_s=300)
        shared = reviewed(session, age_hours=5, predicted="a", final="a", by="UBOB", after_s=30)
        session.add(  # Alice disagreed with the label that won on Bob's ticket
            Review(ticket=shared, slack_user="UALICE", label="c", kind="review", created_at=NOW)
        )
        audit(session, predicted="a", answer="a", by="UBOB")
        audit(session, predicted="a", answer="b", by="UBOB")
        reviewed(session, age_hours=24 * 10, predicted="a", final="a", by="UBOB", after_s=1)

    with factory() as session:
        people = reviewer_stats(session=session, now=NOW, days=7)
        only_bob = reviewer_stats(session=session, now=NOW, days=7, user="UBOB")

    alice, bob = people
    assert (alice.user, alice.answers, alice.checked, alice.agreed) == ("UALICE", 3, 1, 0)
    assert alice.agreement == 0.0 and alice.audit_agreement is None
    assert alice.median_response == 300.0  # 60 s, 300 s, 5 h
    assert (bob.answers, bob.audit_answers, bob.audit_agreed) == (3, 2, 1)
    assert bob.checked == 0 and bob.agreement is None  # every final label rested on Bob alone
    assert bob.audit_agreement == 0.5
    assert only_bob == [bob]


def test_agreement_counts_only_labels_that_did_not_rest_on_the_answer_alone(
    factory: sessionmaker[Session],
) -> None:
    """At quorum 1 a person's answer is the final label: that is no evidence of agreement."""
    with factory.begin() as session:
        for _ in range(3):  # quorum 1: each decided by its only answer
            reviewed(session, age_hours=2, predicted="a", final="a", by="UCAROL", after_s=10)
        both = reviewed(session, age_hours=3, predicted="a", final="b", by="UDAVE", after_s=20)
        session.add(  # quorum 2: Carol's matching answer came first, Dave's decided
            Review(ticket=both, slack_user="UCAROL", label="b", kind="review", created_at=NOW)
        )
        undone = reviewed(session, age_hours=4, predicted="a", final="c", by="UDAVE", after_s=5)
        session.add(  # an undone answer backs nothing
            Review(
                ticket=undone,
                slack_user="UERIN",
                label="c",
                kind="review",
                created_at=NOW,
                undone_at=NOW,
            )
        )

    with factory() as session:
        carol, dave = reviewer_stats(session=session, now=NOW, days=7)
    assert (carol.user, carol.answers, carol.checked, carol.agreed) == ("UCAROL", 4, 1, 1)
    assert (dave.user, dave.answers, dave.checked, dave.agreed) == ("UDAVE", 2, 1, 1)


def test_reviewer_line_shows_agreement_only_where_it_was_measured() -> None:
    alone = ReviewerStats("UCAROL", 3, 0, 0, 0, 0, 30.0)
    shared = ReviewerStats("UDAVE", 4, 2, 1, 2, 2, 90.0)
    assert reviewer_line(alone) == (
        "<@UCAROL> · 3 answers · none checked by another person · median answer after 30 s"
    )
    assert "50% of 2 checked agree with the final label" in reviewer_line(shared)
    assert "100% of 2 audits confirm the model" in reviewer_line(shared)
