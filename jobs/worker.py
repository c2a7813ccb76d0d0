"""The worker process: one leader at a time runs the scheduled jobs.

Workers compete for a lease in the database; the holder starts the scheduler and renews the
lease, the others wait. A crashed leader stops renewing and a standby takes over when the
lease expires. Jobs live in memory, built from settings at each start (nothing pickled), and
each runs once as soon as a worker becomes leader: every job is a sweep over what the database
records (the outbox, reminder stamps, training runs, the digest's last slot), so a run missed
while no worker led is caught up once, late, and never doubled.

SIGTERM stops the scheduler: a running retraining stops at its next progress point (seconds
away, even inside one fit) and is recorded as abandoned, then the lease is released so a
successor starts at once. A leader that finds its lease taken ends its term the same way:
its running training stops rather than race the new leader's.

Jobs never talk to Slack themselves: the process that builds the context (`triage worker`)
hands them delivery and permalink functions, and they hand data to the outbox.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.errors import TriageError
from bot.services.alerts_channel import Severity
from bot.settings import Settings
from jobs.alerts import raise_alert
from jobs.checks import run_checks
from jobs.digest import send_due_digest
from jobs.reminders import Permalink, escalate, send_reminders
from jobs.retention import apply_retention
from jobs.retraining import run_retraining
from jobs.topics import look_for_topics
from storage.database import unit_of_work
from storage.queries.heartbeats import beat, stopped
from storage.queries.leases import SCHEDULER_LEASE, acquire_or_renew, release

log = logging.getLogger(__name__)

LEASE_NAME = SCHEDULER_LEASE


@dataclass
class WorkerContext:
    """What jobs need: settings, database, clock, delivery, and the flags that stop them."""

    settings: Settings
    factory: sessionmaker[Session]
    now: Callable[[], datetime]
    deliver: Callable[[], int]  # sends the outbox rows due now; returns how many went out
    permalink: Permalink  # a link to a Slack message, or None when Slack cannot give one
    stopping: threading.Event = field(default_factory=threading.Event)
    holder: str | None = None  # the lease holder name, set by the Worker running the jobs
    # Set when the lease this worker's scheduler started under is lost; a new one per term,
    # so a job from an old term stays stopped if the worker becomes leader again.
    term_over: threading.Event = field(default_factory=threading.Event)

    def stop_check(self) -> Callable[[], bool]:
        """For a job starting now: True once the worker stops or its leadership term ends."""
        term = self.term_over
        return lambda: self.stopping.is_set() or term.is_set()


def job_retrain(ctx: WorkerContext) -> None:
    """Retrain when due; the run records itself and alerts ops."""
    run_retraining(
        ctx.factory,
        settings=ctx.settings,
        now=ctx.now,
        should_stop=ctx.stop_check(),
        worker=ctx.holder,
    )


def job_deliver(ctx: WorkerContext) -> None:
    """Deliver queued Slack posts (also done by web processes; claims keep it single)."""
    ctx.deliver()


def job_remind(ctx: WorkerContext) -> None:
    """Reminders in threads, then escalations to ops."""
    with unit_of_work(ctx.factory) as session:
        send_reminders(session=session, settings=ctx.settings, now=ctx.now())
    with unit_of_work(ctx.factory) as session:
        escalate(session=session, settings=ctx.settings, now=ctx.now(), permalink=ctx.permalink)


def job_alerts(ctx: WorkerContext) -> None:
    """Backlog, audit precision, drift and delivery-failure checks."""
    with unit_of_work(ctx.factory) as session:
        run_checks(session=session, settings=ctx.settings, now=ctx.now())


def job_topics(ctx: WorkerContext) -> None:
    """New topics among recent novel tickets, each announced once."""
    with unit_of_work(ctx.factory) as session:
        look_for_topics(session=session, settings=ctx.settings, now=ctx.now())


def job_digest(ctx: WorkerContext) -> None:
    """The daily summary in the alerts channel, once per slot (late after a missed one)."""
    with unit_of_work(ctx.factory) as session:
        send_due_digest(session=session, settings=ctx.settings, now=ctx.now())


def job_retention(ctx: WorkerContext) -> None:
    """Ticket text past the retention period removed; delivered outbox rows pruned."""
    apply_retention(ctx.factory, settings=ctx.settings, now=ctx.now(), stop=ctx.stop_check())


JOBS: Mapping[str, Callable[[WorkerContext], None]] = MappingProxyType(
    {
        "retrain": job_retrain,
        "deliver": job_deliver,
        "remind": job_remind,
        "alerts": job_alerts,
        "topics": job_topics,
        "digest": job_digest,
        "retention": job_retention,
    }
)


def triggers(settings: Settings) -> dict[str, BaseTrigger]:
    """When each job runs; intervals and the digest hour come from settings."""
    return {
        "retrain": IntervalTrigger(seconds=settings.retrain_check_seconds),
        "deliver": IntervalTrigger(seconds=settings.delivery_seconds),
        "remind": IntervalTrigger(seconds=settings.reminder_check_seconds),
        "alerts": IntervalTrigger(seconds=settings.alert_check_seconds),
        "topics": IntervalTrigger(seconds=settings.topic_check_seconds),
        "digest": CronTrigger(hour=settings.digest_hour, minute=0, timezone=UTC),
        "retention": IntervalTrigger(hours=1),
    }


def run_job(ctx: WorkerContext, name: str) -> None:
    """Run job `name` with `ctx`; an error of the family reaches ops as an alert."""
    if ctx.stop_check()():
        return
    started = ctx.now()
    try:
        JOBS[name](ctx)
    except TriageError as error:
        log.warning("job failed", extra={"job": name, "error": error.reason})
        report_job_failure(ctx, name, error)
        return
    except Exception:  # noqa: BLE001 - log and keep the scheduler alive for the next run
        log.exception("job failed", extra={"job": name})
        return
    log.debug("job done", extra={"job": name, "seconds": (ctx.now() - started).total_seconds()})


def report_job_failure(ctx: WorkerContext, name: str, error: TriageError) -> None:
    """The alert surface of the error family: its reason, rate-limited per job."""
    try:
        with unit_of_work(ctx.factory) as session:
            raise_alert(
                f"job-{name}",
                Severity.FAILURE,
                f"The {name} job failed: {error.reason}",
                what_to_do="The worker tries again at the job's next run; fix the cause above.",
                session=session,
                settings=ctx.settings,
                now=ctx.now(),
            )
    except Exception:  # noqa: BLE001 - the database itself may be what failed
        log.exception("could not record the job failure", extra={"job": name})


class Worker:
    """Competes for the scheduler lease and runs the scheduler while holding it."""

    def __init__(self, ctx: WorkerContext, *, holder: str | None = None) -> None:
        self.ctx = ctx
        self.host = socket.gethostname()
        self.holder = holder or f"{self.host}:{os.getpid()}"
        ctx.holder = self.holder
        self._ttl = timedelta(seconds=ctx.settings.worker_lease_seconds)
        self._scheduler: BackgroundScheduler | None = None

    def run(self) -> None:
        """Block until `ctx.stopping` is set; then stop cleanly and release the lease."""
        renew_every = self._ttl.total_seconds() / 3
        standing_by = False
        try:
            while not self.ctx.stopping.is_set():
                leader = self._renew()
                if not leader and not standing_by:
                    log.info(
                        "standing by: another worker holds the scheduler lease",
                        extra={"holder": self.holder},
                    )
                standing_by = not leader
                if leader and self._scheduler is None:
                    self._start_scheduler()
                elif not leader and self._scheduler is not None:
                    log.warning("lost the scheduler lease; stopping jobs")
                    self.ctx.term_over.set()  # a running training stops at its next step
                    self._stop_scheduler(wait=False)
                self.ctx.stopping.wait(renew_every)
        finally:
            self._stop_scheduler(wait=True)
            with unit_of_work(self.ctx.factory) as session:
                release(LEASE_NAME, self.holder, session=session)
                stopped(self.holder, session=session, now=self.ctx.now())
            log.info("worker stopped", extra={"holder": self.holder})

    def _renew(self) -> bool:
        """Renew the lease and, in the same transaction, record this worker's heartbeat."""
        try:
            with unit_of_work(self.ctx.factory) as session:
                now = self.ctx.now()
                leading = acquire_or_renew(
                    LEASE_NAME, self.holder, session=session, now=now, ttl=self._ttl
                )
                beat(self.holder, host=self.host, leading=leading, session=session, now=now)
                return leading
        except Exception:  # noqa: BLE001 - a database hiccup: act as if the lease was lost
            log.exception("lease renewal failed")
            return False

    def _start_scheduler(self) -> None:
        self.ctx.term_over = threading.Event()
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=UTC,
        )
        start = utc_now()  # each job runs once now: catching up what no leader ran meanwhile
        for name, trigger in triggers(self.ctx.settings).items():
            scheduler.add_job(
                functools.partial(run_job, self.ctx, name),
                trigger=trigger,
                id=name,
                name=name,
                next_run_time=start,
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started", extra={"holder": self.holder, "jobs": sorted(JOBS)})

    def scheduled(self) -> list[str]:
        """The jobs the running scheduler holds (none while standing by)."""
        return [] if self._scheduler is None else sorted(j.id for j in self._scheduler.get_jobs())

    def _stop_scheduler(self, *, wait: bool) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
            log.info("scheduler stopped", extra={"holder": self.holder})
