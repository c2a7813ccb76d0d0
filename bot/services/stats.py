"""The figures `stats`, App Home, the digest and the alerts show, computed in one place.

Counts are aggregated in SQL; only latencies are fetched row by row (for human-decided review
tickets of the window) so percentiles are computed the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.services.policy import Policy, current_policy
from bot.services.reliability import audit_answer_error, reviewer_reliability
from bot.services.topics import TopicSummary, topic_suggestions
from bot.settings import Settings
from classifier import Decision, Thresholds, wilson_interval
from classifier.intervals import PoweredEstimate, prediction_powered_mean
from classifier.reliability import ReviewerEstimate
from classifier.thresholds import corrected_precision
from storage.models import OutboxKind, Review, ReviewKind, Ticket, TicketStatus
from storage.queries.model_versions import active_version
from storage.queries.outbox import count_dead


@dataclass(frozen=True)
class ServiceStats:
    """How the service did over the last `days` days (tickets created in the window)."""

    days: int
    since: datetime
    tickets_in: int
    automated: int  # labelled by the model (audited ones included)
    audited: int  # sampled for a blind check, answered or not
    reviewed: int  # decided by people after being sent to review
    pending: int  # backlog now, whatever its age
    oldest_pending_at: datetime | None
    automation_rate: float | None
    audit_total: int  # audits a person answered
    audit_correct: int  # ... where the person agreed with the automatic label
    audit_precision: float | None
    audit_interval: tuple[float, float] | None
    review_latency_p50: float | None
    review_latency_p90: float | None
    per_label: dict[str, int]
    confused_pairs: list[tuple[str, str, int]]
    novel: int = 0  # sent to people as unlike anything the model learned
    no_label: int = 0  # settled by people as "none of these"
    # Estimated share of wrong audit answers (bot.services.reliability.audit_answer_error).
    audit_label_error: float | None = None
    callbacks_given_up: int = 0  # dead letters now, whatever their age: an admin's to-do
    # The audits powered by the model's confidence on every automated ticket of the window
    # (prediction-powered inference, `audit_powered_estimate`); not corrected for auditors.
    audit_powered: PoweredEstimate | None = None

    @property
    def corrected_audit(self) -> tuple[float, float, float] | None:
        """Audit precision and interval corrected for wrong audit answers, when estimated."""
        error = self.audit_label_error
        if error is None or error <= 0 or self.audit_precision is None:
            return None
        if self.audit_interval is None:
            return None
        low, high = self.audit_interval
        return (
            corrected_precision(self.audit_precision, error),
            corrected_precision(low, error),
            corrected_precision(high, error),
        )

    @property
    def audit_estimate(self) -> tuple[float, float, float] | None:
        """The prediction-powered precision and interval, corrected for wrong audit answers
        when their share is estimated (as `corrected_audit` corrects the plain share)."""
        powered = self.audit_powered
        if powered is None:
            return None
        values = (powered.estimate, powered.low, powered.high)
        error = self.audit_label_error
        if error is None or error <= 0:
            return values
        value, low, high = (corrected_precision(v, error) for v in values)
        return value, low, high


@dataclass(frozen=True)
class ReviewerStats:
    """One person's answers in the window and how often they matched the outcome.

    Agreement is only measured where the final label did not rest on this person's answer
    alone: someone else decided the ticket, or another person gave the label that won. At
    quorum 1 a person's answer *is* the final label, and counting it would always say 100%.
    """

    user: str
    answers: int
    checked: int  # answers on tickets whose final label someone else decided or backed
    agreed: int  # ... that match it
    audit_answers: int
    audit_agreed: int  # blind audit answers matching the model's automatic label
    median_response: float | None  # seconds from the ticket's arrival to the answer
    # Estimated accuracy with its interval (bot.services.reliability), when asked for.
    estimate: ReviewerEstimate | None = None

    @property
    def agreement(self) -> float | None:
        """Share of checked answers matching the final label (None when none was checked)."""
        return self.agreed / self.checked if self.checked else None

    @property
    def audit_agreement(self) -> float | None:
        """Share of audit answers confirming the model."""
        return self.audit_agreed / self.audit_answers if self.audit_answers else None


@dataclass(frozen=True)
class PendingTicket:
    """A ticket waiting for a person, with where its review message is."""

    ticket_id: int
    created_at: datetime
    channel: str | None
    ts: str | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def service_stats(*, session: Session, now: datetime, days: int) -> ServiceStats:
    """Automation, audit precision, review latency, backlog and labels for the window."""
    since = now - timedelta(days=days)
    window = (
        Ticket.created_at >= since,
        Ticket.created_at <= now,
        Ticket.status != TicketStatus.IMPORTED,
    )
    human = Ticket.decided_by.is_not(None)
    is_audit = Ticket.decision == Decision.AUDIT
    counts = session.execute(
        select(
            func.count(),
            func.count().filter(Ticket.status == TicketStatus.AUTO),
            func.count().filter(is_audit),
            func.count().filter(Ticket.status == TicketStatus.LABELLED, human),
            func.count().filter(is_audit, human),
            func.count().filter(is_audit, human, Ticket.final_label == Ticket.predicted_label),
            func.count().filter(Ticket.novel.is_(True)),
            func.count().filter(Ticket.status == TicketStatus.NO_LABEL),
        ).where(*window)
    ).one()
    tickets_in, automated, audited, reviewed, audit_total, audit_correct, novel, no_label = counts
    pending, oldest = backlog(session=session)
    latencies = [
        _seconds(created, decided)
        for created, decided in session.execute(
            select(Ticket.created_at, Ticket.decided_at).where(
                *window, Ticket.status == TicketStatus.LABELLED, human
            )
        )
        if decided is not None
    ]
    per_label = {
        label: count
        for label, count in session.execute(
            select(Ticket.final_label, func.count())
            .where(*window, Ticket.final_label.is_not(None))
            .group_by(Ticket.final_label)
            .order_by(func.count().desc(), Ticket.final_label)
        )
        if label is not None
    }
    confused = [
        (predicted, final, count)
        for predicted, final, count in session.execute(
            select(Ticket.predicted_label, Ticket.final_label, func.count())
            .where(*window, human, Ticket.predicted_label != Ticket.final_label)
            .group_by(Ticket.predicted_label, Ticket.final_label)
            .order_by(func.count().desc(), Ticket.predicted_label, Ticket.final_label)
        )
        if predicted is not None and final is not None
    ]
    return ServiceStats(
        days=days,
        since=since,
        tickets_in=tickets_in,
        automated=automated,
        audited=audited,
        reviewed=reviewed,
        pending=pending,
        oldest_pending_at=oldest,
        automation_rate=automated / tickets_in if tickets_in else None,
        audit_total=audit_total,
        audit_correct=audit_correct,
        audit_precision=audit_correct / audit_total if audit_total else None,
        audit_interval=wilson_interval(audit_correct, audit_total) if audit_total else None,
        review_latency_p50=percentile(latencies, 0.5),
        review_latency_p90=percentile(latencies, 0.9),
        per_label=per_label,
        confused_pairs=confused,
        novel=novel,
        no_label=no_label,
        audit_label_error=audit_answer_error(session=session, now=now, days=days)
        if audit_total
        else None,
        callbacks_given_up=count_dead(OutboxKind.CALLBACK, session=session),
        audit_powered=audit_powered_estimate(session=session, window=window)
        if audit_total
        else None,
    )


def audit_powered_estimate(
    *, session: Session, window: Sequence[ColumnElement[bool]]
) -> PoweredEstimate | None:
    """Precision of the window's automated tickets by prediction-powered inference: their
    mean calibrated confidence (stored on each ticket), rectified by how far the answered
    audits' outcomes (the auditor agreed) fell from their own confidence.

    Audits are a random share of the automated tickets (`classifier.decision.decide`), which
    is what makes the rectifier unbiased. It estimates what auditors would say; correcting
    it for their wrong answers is `ServiceStats.audit_estimate`'s.
    """
    automated = Ticket.decision.in_((Decision.AUTO, Decision.AUDIT))
    known = Ticket.confidence.is_not(None)
    count, total, squares = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Ticket.confidence), 0.0),
            func.coalesce(func.sum(Ticket.confidence * Ticket.confidence), 0.0),
        ).where(*window, automated, known)
    ).one()
    audits = session.execute(
        select(Ticket.confidence, Ticket.final_label, Ticket.predicted_label).where(
            *window, Ticket.decision == Decision.AUDIT, Ticket.decided_by.is_not(None), known
        )
    ).all()
    return prediction_powered_mean(
        predicted_count=int(count),
        predicted_sum=float(total or 0.0),
        predicted_squares=float(squares or 0.0),
        labelled=[
            (float(f or 0.0), final is not None and final == predicted)
            for f, final, predicted in audits
        ],
    )


def reviewer_stats(
    *, session: Session, now: datetime, days: int, user: str | None = None
) -> list[ReviewerStats]:
    """Per person (or just `user`): answers given in the window, most active first."""
    other = aliased(Review)
    backed_by_others = (
        select(other.id)
        .where(
            other.ticket_id == Ticket.id,
            other.slack_user != Review.slack_user,
            other.label == Ticket.final_label,
            other.undone_at.is_(None),
        )
        .exists()
    )
    checked = and_(
        Ticket.final_label.is_not(None),
        Ticket.decided_by.is_not(None),
        or_(Ticket.decided_by != Review.slack_user, backed_by_others),
    )
    query = (
        select(
            Review.slack_user,
            Review.label,
            Review.kind,
            Review.created_at,
            Ticket.created_at,
            Ticket.final_label,
            Ticket.predicted_label,
            case((checked, True), else_=False),
        )
        .join(Ticket, Review.ticket_id == Ticket.id)
        .where(
            Review.created_at >= now - timedelta(days=days),
            Review.created_at <= now,
            Review.label.is_not(None),
            Review.undone_at.is_(None),
        )
    )
    if user is not None:
        query = query.where(Review.slack_user == user)
    rows: dict[str, list[Answer]] = {}
    for who, *rest in session.execute(query):
        rows.setdefault(who, []).append(Answer(*rest))
    result = [_one_reviewer(who, answers) for who, answers in rows.items()]
    return sorted(result, key=lambda r: (-r.answers, r.user))


@dataclass(frozen=True)
class Answer:
    """One answer with what became of its ticket."""

    label: str
    kind: ReviewKind
    answered_at: datetime
    arrived_at: datetime
    final_label: str | None
    predicted_label: str | None
    checked: bool  # the final label did not rest on this answer alone


def _one_reviewer(user: str, answers: list[Answer]) -> ReviewerStats:
    checked = [a for a in answers if a.checked]
    audits = [a for a in answers if a.kind == ReviewKind.AUDIT]
    waits = [_seconds(a.arrived_at, a.answered_at) for a in answers]
    return ReviewerStats(
        user=user,
        answers=len(answers),
        checked=len(checked),
        agreed=sum(1 for a in checked if a.label == a.final_label),
        audit_answers=len(audits),
        audit_agreed=sum(1 for a in audits if a.label == a.predicted_label),
        median_response=median(waits) if waits else None,
    )


def backlog(*, session: Session) -> tuple[int, datetime | None]:
    """How many tickets wait for a person now, and since when the oldest waits."""
    query = select(func.count(), func.min(Ticket.created_at)).where(
        Ticket.status == TicketStatus.PENDING
    )
    count, oldest = session.execute(query).one()
    return count, oldest


def oldest_pending(*, session: Session, limit: int = 5) -> list[PendingTicket]:
    """The tickets waiting longest for a person, oldest first."""
    query = (
        select(Ticket.id, Ticket.created_at, Ticket.slack_channel, Ticket.slack_ts)
        .where(Ticket.status == TicketStatus.PENDING)
        .order_by(Ticket.created_at, Ticket.id)
        .limit(limit)
    )
    return [PendingTicket(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class HomeFigures:
    """Everything one person's App Home shows, read in one unit of work."""

    service: ServiceStats
    mine: ReviewerStats | None
    waiting: list[PendingTicket]
    policy: Policy
    model_version: int | None
    model_accuracy: float | None
    tuned: Thresholds | None  # the active model's own thresholds, before admin overrides
    suggestions: list[TopicSummary] = field(default_factory=list)  # open new topics


def home_figures(
    *, session: Session, settings: Settings, now: datetime, user: str, days: int = 7
) -> HomeFigures:
    """The service state, the backlog and `user`'s own week."""
    version = active_version(session=session)
    metrics = {} if version is None else version.metrics or {}
    accuracy = (metrics.get("holdout") or metrics.get("cv") or {}).get("accuracy")
    tuned = None if version is None else Thresholds.from_dict(version.thresholds)
    mine = reviewer_stats(session=session, now=now, days=days, user=user)
    if mine:
        estimates = reviewer_reliability(session=session, now=now, days=days)
        mine = [replace(mine[0], estimate=estimates.get(user))]
    return HomeFigures(
        service=service_stats(session=session, now=now, days=days),
        mine=mine[0] if mine else None,
        waiting=oldest_pending(session=session),
        policy=current_policy(session=session, settings=settings),
        model_version=None if version is None else version.id,
        model_accuracy=accuracy,
        tuned=tuned,
        suggestions=topic_suggestions(session=session),
    )


@dataclass(frozen=True)
class GateSummary:
    """The rules an arriving ticket meets now: the average guarantee's bar, the per-ticket
    floor, and what the active model's novelty detector was measured to do."""

    threshold: float | None  # the global bar in force; None before any model
    floor: float
    novelty: dict[str, Any] | None  # false_alarm_target/_measured, recall_held_out_labels


def gate_summary(*, session: Session, settings: Settings) -> GateSummary:
    """The active model's bar with the admins' overrides, the floor, and its detector."""
    policy = current_policy(session=session, settings=settings)
    version = active_version(session=session)
    if version is None:
        return GateSummary(None, policy.confidence_floor, None)
    thresholds = policy.thresholds_for(Thresholds.from_dict(version.thresholds))
    return GateSummary(
        thresholds.default, policy.confidence_floor, (version.metrics or {}).get("novelty")
    )
