"""Alert checks: conditions ops must hear about, each rate-limited under its own key."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity
from bot.services.policy import current_policy
from bot.services.readiness import DELIVERY_STUCK_AFTER
from bot.services.stats import ServiceStats, service_stats
from bot.settings import Settings
from bot.words import duration, powered_audit
from jobs.alerts import raise_alert
from storage.queries.outbox import pending_summary

# Drift: the share sent to review in the last day against the 7 days before it.
DRIFT_MIN_TICKETS = 30
DRIFT_RISE_POINTS = 0.15
DRIFT_RISE_FACTOR = 1.5


def review_share(stats: ServiceStats) -> float | None:
    """Share of new tickets that needed a person (None without tickets)."""
    return None if stats.automation_rate is None else 1 - stats.automation_rate


def run_checks(*, session: Session, settings: Settings, now: datetime) -> list[str]:
    """Evaluate every condition; return the keys of the alerts that were queued."""
    week = service_stats(session=session, now=now, days=7)
    raised = []
    for check in (check_backlog, check_audit_precision, check_drift, check_delivery):
        key = check(week, session=session, settings=settings, now=now)
        if key is not None:
            raised.append(key)
    return raised


def check_backlog(
    week: ServiceStats, *, session: Session, settings: Settings, now: datetime
) -> str | None:
    """Too many reviews waiting."""
    if week.pending <= settings.backlog_alert:
        return None
    oldest = (
        ""
        if week.oldest_pending_at is None
        else (f", the oldest for {duration((now - week.oldest_pending_at).total_seconds())}")
    )
    posted = raise_alert(
        "backlog",
        Severity.WARNING,
        f"{week.pending} reviews waiting (alert above {settings.backlog_alert}){oldest}",
        what_to_do="Ask reviewers to clear the review channel (`/triage queue` lists the "
        "oldest); if audits show precision above target, `/triage threshold` "
        "can send fewer tickets to review.",
        session=session,
        settings=settings,
        now=now,
    )
    return "backlog" if posted else None


def check_audit_precision(
    week: ServiceStats, *, session: Session, settings: Settings, now: datetime
) -> str | None:
    """Automatic labels are wrong more often than the target allows, per blind audits."""
    target = current_policy(session=session, settings=settings).target_precision
    if week.audit_total < settings.min_audits_for_alert or week.audit_precision is None:
        return None
    low, high = week.audit_interval or (week.audit_precision, week.audit_precision)
    measured = (
        f"{week.audit_precision:.1%} ({low:.1%}–{high:.1%}, 95% interval) on the last "
        f"{week.audit_total} audits"
    )
    # Wrong audit answers make right automatic labels look wrong: judge the corrected figure
    # (taken at the least error the auditors are shown to make), and say it is corrected.
    corrected = week.corrected_audit
    if corrected is None or week.audit_label_error is None:
        precision, shown = week.audit_precision, measured
    else:
        precision, low, high = corrected
        shown = (
            f"{precision:.1%} ({low:.1%}–{high:.1%}) corrected for an estimated "
            f"{week.audit_label_error:.1%} of wrong audit answers; measured {measured}"
        )
    # The same audits powered by the model's confidence on every automated ticket: unbiased
    # like the share, and no noisier, so it is the figure judged when there is one.
    estimate, powered = week.audit_estimate, week.audit_powered
    if estimate is not None and powered is not None:
        words = powered_audit(
            estimate,
            audits=powered.labelled,
            automated=powered.predicted,
            label_error=week.audit_label_error,
        )
        precision, shown = estimate[0], f"{words} · audit share: {shown}"
    if precision >= target:
        return None
    posted = raise_alert(
        "audit-precision",
        Severity.WARNING,
        f"Automatic precision dropped: {shown}, target {target:.0%}",
        what_to_do="`/triage pause` to send everything to review, or raise the threshold "
        "(`/triage threshold 0.9`); retraining on recent answers may fix it "
        "(`/triage retrain`).",
        details=[f"{a} labelled as {b}: {n}" for a, b, n in week.confused_pairs[:5]],
        session=session,
        settings=settings,
        now=now,
    )
    return "audit-precision" if posted else None


def check_drift(
    week: ServiceStats, *, session: Session, settings: Settings, now: datetime
) -> str | None:
    """The share of tickets needing a person rose sharply: new kinds of tickets, or a bad model."""
    today = service_stats(session=session, now=now, days=1)
    before = service_stats(session=session, now=now - timedelta(days=1), days=7)
    recent, baseline = review_share(today), review_share(before)
    if recent is None or baseline is None or today.tickets_in < DRIFT_MIN_TICKETS:
        return None
    if recent < baseline + DRIFT_RISE_POINTS or recent < baseline * DRIFT_RISE_FACTOR:
        return None
    posted = raise_alert(
        "drift",
        Severity.WARNING,
        f"More tickets need people: {recent:.0%} sent to review in the last 24 h, "
        f"against {baseline:.0%} over the 7 days before",
        what_to_do="Look at the review channel for a new kind of request; add a label "
        "(`/triage labels add`) if one is missing, then `/triage retrain`.",
        details=[f"{today.tickets_in} tickets in the last 24 h"],
        session=session,
        settings=settings,
        now=now,
    )
    return "drift" if posted else None


def check_delivery(
    _week: ServiceStats, *, session: Session, settings: Settings, now: datetime
) -> str | None:
    """Slack posts keep failing (wrong token or channel, or Slack down)."""
    pending, failing, oldest = pending_summary(session=session)
    if not failing or oldest is None or now - oldest < DELIVERY_STUCK_AFTER:
        return None
    posted = raise_alert(
        "delivery",
        Severity.FAILURE,
        f"Slack deliveries failing: {failing} of {pending} queued posts failed, the oldest "
        f"waiting {duration((now - oldest).total_seconds())}",
        what_to_do="Check SLACK_BOT_TOKEN and that the bot is in the review and alerts "
        "channels; nothing is lost, posts go out once Slack accepts them.",
        session=session,
        settings=settings,
        now=now,
    )
    return "delivery" if posted else None
