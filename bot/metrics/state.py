"""Gauges read from the database at scrape time: the service's state, the same from any process.

Backlog, outbox, audits, trainings, the active model and the workers are rows in the shared
database, so computing them here (one grouped query each) is right however many web and
worker processes run, and survives restarts that would reset in-memory counters. Ticket
and training totals are counts of rows that are never deleted, so they are true counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from bot.services.policy import current_policy
from bot.services.stats import backlog, wilson_interval
from bot.services.worker_health import worker_health
from bot.settings import Settings
from storage.database import unit_of_work
from storage.models import OutboxKind
from storage.queries.gauges import (
    audit_answers,
    finished_training_runs,
    outbox_by_kind,
    running_trainings,
    tickets_by_source_and_decision,
)
from storage.queries.model_versions import active_version_id
from storage.queries.outbox import count_dead

log = logging.getLogger(__name__)

AUDIT_WINDOW = timedelta(days=7)  # as the audit-precision alert and `/triage stats 7d`
TRAINING_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)


class DatabaseState(Collector):
    """A prometheus-client collector that reads the service's state in one unit of work."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        now: Callable[[], datetime],
        watching_since: datetime,
    ) -> None:
        self._factory, self._settings, self._now = factory, settings, now
        self._watching_since = watching_since

    def collect(self) -> Iterator[Metric]:
        """Every state metric, or `triage_database_up 0` alone when the database fails."""
        try:
            with unit_of_work(self._factory) as session:
                families = list(self._families(session, self._now()))
        except Exception:  # noqa: BLE001 - a scrape must still answer, saying the database is down
            log.warning("metrics: database unreachable", exc_info=True)
            families = []
        yield GaugeMetricFamily(
            "triage_database_up",
            "1 when this process read the database for this scrape, 0 when it could not.",
            value=1.0 if families else 0.0,
        )
        yield from families

    def _families(self, session: Session, now: datetime) -> Iterator[Metric]:
        yield from _tickets(session)
        yield from _reviews(session, now)
        yield from _audits(session, self._settings, now)
        yield from _outbox(session, now)
        yield from _trainings(session)
        yield from _workers(session, self._settings, now, self._watching_since)
        version = active_version_id(session=session)
        yield GaugeMetricFamily(
            "triage_active_model_version",
            "Id of the active model version (0 when none is active).",
            value=float(version or 0),
        )


def _tickets(session: Session) -> Iterator[Metric]:
    tickets = CounterMetricFamily(
        "triage_tickets",
        "Tickets that arrived, by source and decision (auto, audit, review).",
        labels=["source", "decision"],
    )
    for source, decision, count in tickets_by_source_and_decision(session=session):
        tickets.add_metric([source, decision], float(count))
    yield tickets


def _reviews(session: Session, now: datetime) -> Iterator[Metric]:
    pending, oldest = backlog(session=session)
    yield GaugeMetricFamily(
        "triage_review_backlog", "Tickets waiting for a person now.", value=float(pending)
    )
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    yield GaugeMetricFamily(
        "triage_review_oldest_age_seconds",
        "How long the oldest waiting ticket has waited (0 when none waits).",
        value=age,
    )


def _audits(session: Session, settings: Settings, now: datetime) -> Iterator[Metric]:
    answered, agreed = audit_answers(session=session, since=now - AUDIT_WINDOW)
    yield GaugeMetricFamily(
        "triage_audits_answered",
        "Blind audits people answered, for tickets of the last 7 days.",
        value=float(answered),
    )
    if answered:
        low, high = wilson_interval(agreed, answered)
        precision = GaugeMetricFamily(
            "triage_audit_precision",
            "Precision of automatic labels estimated from the last 7 days' audits "
            "(estimate, and the 95% Wilson interval's lower and upper bounds).",
            labels=["bound"],
        )
        precision.add_metric(["estimate"], agreed / answered)
        precision.add_metric(["lower"], low)
        precision.add_metric(["upper"], high)
        yield precision
    policy = current_policy(session=session, settings=settings)
    yield GaugeMetricFamily(
        "triage_target_precision",
        "The precision automatic labels are tuned for.",
        value=policy.target_precision,
    )
    yield GaugeMetricFamily(
        "triage_paused", "1 while admins paused automation.", value=float(policy.paused)
    )


def _outbox(session: Session, now: datetime) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "triage_outbox_depth", "Deliveries waiting to be sent, by kind.", labels=["kind"]
    )
    failing = GaugeMetricFamily(
        "triage_outbox_failing",
        "Deliveries waiting whose last attempt failed, by kind.",
        labels=["kind"],
    )
    oldest = GaugeMetricFamily(
        "triage_outbox_oldest_age_seconds",
        "Age of the oldest delivery waiting, by kind.",
        labels=["kind"],
    )
    for kind, waiting, failed, created in outbox_by_kind(session=session):
        depth.add_metric([kind], float(waiting))
        failing.add_metric([kind], float(failed))
        age = 0.0 if created is None else max(0.0, (now - created).total_seconds())
        oldest.add_metric([kind], age)
    yield from (depth, failing, oldest)
    yield GaugeMetricFamily(
        "triage_callback_dead_letters",
        "Helpdesk callbacks given up, waiting for an admin to retry them.",
        value=float(count_dead(OutboxKind.CALLBACK, session=session)),
    )


def _trainings(session: Session) -> Iterator[Metric]:
    runs = finished_training_runs(session=session)
    outcomes = CounterMetricFamily(
        "triage_training_runs",
        "Finished retrainings, by outcome (succeeded, failed, abandoned, interrupted).",
        labels=["outcome"],
    )
    counts: dict[str, int] = {}
    for status, _, _ in runs:
        counts[status] = counts.get(status, 0) + 1
    for status, count in sorted(counts.items()):
        outcomes.add_metric([status], float(count))
    yield outcomes
    durations = [(end - start).total_seconds() for status, start, end in runs]
    buckets = [(str(b), float(sum(1 for d in durations if d <= b))) for b in TRAINING_BUCKETS]
    buckets.append(("+Inf", float(len(durations))))
    yield HistogramMetricFamily(
        "triage_training_duration_seconds",
        "How long finished retrainings took, whatever their outcome.",
        buckets=buckets,
        sum_value=sum(durations),
    )
    yield GaugeMetricFamily(
        "triage_training_running",
        "Retrainings running now.",
        value=float(running_trainings(session=session)),
    )


def _workers(
    session: Session, settings: Settings, now: datetime, watching_since: datetime
) -> Iterator[Metric]:
    health = worker_health(session=session, settings=settings, now=now)
    yield GaugeMetricFamily(
        "triage_worker_leader",
        "1 while a worker holds the scheduler lease, 0 while none does.",
        value=float(health.leader is not None),
    )
    yield GaugeMetricFamily(
        "triage_worker_leader_heartbeat_age_seconds",
        "Seconds since the leading worker's last heartbeat (0 without a leader).",
        value=health.heartbeat_age or 0.0,
    )
    yield GaugeMetricFamily(
        "triage_worker_seconds_without_leader",
        "How long no worker has led (0 while one leads).",
        value=health.seconds_without_leader(watching_since) or 0.0,
    )
    yield GaugeMetricFamily(
        "triage_worker_standbys",
        "Live workers standing by (not leading).",
        value=float(len(health.standby)),
    )
