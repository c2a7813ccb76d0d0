"""Scheduled retraining: decide whether it is due, run it as a recorded attempt, report it.

Every attempt is a `training_runs` row with a heartbeat. A worker killed mid-training leaves
a RUNNING row whose heartbeat goes stale; the next check marks it INTERRUPTED and alerts ops.
A worker's run names the worker, so the standby that takes over its lease knows at its
first check that the run died with its worker, rather than five minutes later.
The active model is never touched until a finished candidate passes the promotion gate.
Only a run that finished (SUCCEEDED or FAILED) uses up the answers and the admin's request
that triggered it: an abandoned or interrupted one is retried at the next check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import TriageError
from bot.services.alerts_channel import Severity
from bot.services.models import Progress, TrainingOutcome, enough_to_train, retrain
from bot.services.policy import RETRAIN_REQUESTED, current_policy
from bot.settings import Settings
from classifier import Metrics
from classifier.model import reporting_fit_progress
from classifier.thresholds import NEVER
from jobs.alerts import raise_alert
from storage.database import unit_of_work
from storage.models import (
    Review,
    RuntimeSetting,
    TrainingRun,
    TrainingRunStatus,
    WorkerHeartbeat,
)
from storage.queries.runtime_settings import runtime_settings
from storage.queries.tickets import imported_examples

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
STALE_AFTER = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Runs that used up their trigger; the new answers are counted from the latest one's start.
FINISHED = (TrainingRunStatus.SUCCEEDED, TrainingRunStatus.FAILED)


class Cancelled(TriageError):
    """The worker is shutting down or lost its lease; training stops at its next progress point."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"stopped at {stage!r}")
        self.stage = stage


@dataclass(frozen=True)
class Due:
    """Whether to retrain now, and why (shown in the alert)."""

    due: bool
    trigger: str
    new_answers: int


def retraining_due(*, session: Session, settings: Settings) -> Due:
    """Due when an admin asked, or enough new answers arrived since the last finished attempt.

    A failed attempt counts (one that lacked data is not retried every minute); an abandoned
    or interrupted one learned nothing, so its answers still count. Never due while another
    run is going (a worker that just lost the lease stops its own at the next progress point).
    """
    requested = runtime_settings(session=session).get(RETRAIN_REQUESTED)
    last_start = (
        session.scalar(
            select(func.max(TrainingRun.started_at)).where(TrainingRun.status.in_(FINISHED))
        )
        or EPOCH
    )
    new_answers = (
        session.scalar(
            select(func.count())
            .select_from(Review)
            .where(
                Review.label.is_not(None),
                Review.undone_at.is_(None),
                Review.created_at > last_start,
            )
        )
        or 0
    )
    running = session.scalar(
        select(func.count())
        .select_from(TrainingRun)
        .where(TrainingRun.status == TrainingRunStatus.RUNNING)
    )
    if running:
        return Due(False, "", new_answers)
    if requested:
        return Due(True, f"requested by <@{requested.get('by', '?')}>", new_answers)
    if new_answers >= settings.retrain_min_answers:
        return Due(True, f"{new_answers} new answers", new_answers)
    if last_start == EPOCH and enough_to_train(imported_examples(session=session)):
        # A deployment that starts from imported history should not wait for N answers; one
        # that starts from nothing trains once N answers arrived, like every later retraining.
        return Due(True, "first model from imported history", new_answers)
    return Due(False, "", new_answers)


def mark_interrupted_runs(*, session: Session, settings: Settings, now: datetime) -> int:
    """Runs that stopped beating were killed: record it and tell ops once.

    A run is dead when its own heartbeat is older than STALE_AFTER (a training step may be
    slow, so this waits long), or at once when it is a worker's and that worker has not beaten
    for a whole lease: its lease lapsed with it, which is how a successor came to lead.
    The rows are locked, so two checkers never both announce one run.
    """
    lease = timedelta(seconds=settings.worker_lease_seconds)
    worker_alive = exists().where(
        WorkerHeartbeat.holder == TrainingRun.worker, WorkerHeartbeat.beat_at >= now - lease
    )
    stale = list(
        session.scalars(
            select(TrainingRun)
            .where(
                TrainingRun.status == TrainingRunStatus.RUNNING,
                or_(
                    TrainingRun.heartbeat_at < now - STALE_AFTER,
                    and_(TrainingRun.worker.is_not(None), ~worker_alive),
                ),
            )
            .with_for_update(skip_locked=True)
        )
    )
    for run in stale:
        run.status, run.finished_at = TrainingRunStatus.INTERRUPTED, now
        run.error = "the worker stopped while training (killed or crashed)"
        raise_alert(
            f"retrain-interrupted-{run.id}",
            Severity.FAILURE,
            f"Retraining #{run.id} was interrupted: the worker died while training",
            what_to_do="Nothing to undo: the active model is unchanged. If it repeats, check "
            "the worker's memory and logs; `triage train` runs it by hand.",
            details=[f"started {run.started_at:%Y-%m-%d %H:%M} UTC, trigger: {run.trigger}"],
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )
    return len(stale)


def run_retraining(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    now: Callable[[], datetime],
    should_stop: Callable[[], bool] = lambda: False,
    force: bool = False,
    trigger: str | None = None,
    progress: Progress | None = None,
    worker: str | None = None,
) -> TrainingRun | None:
    """The retraining job: returns the finished run, or None when nothing was due.

    `triage train` and `triage demo` call it with `force` and their own `trigger`, so a
    training from the command line is recorded and announced like the worker's, and uses
    the admins' run-time target. `progress` hears the training stages (a CLI's bars).
    `worker` is the lease holder of the worker running it, if a worker does.
    """
    with unit_of_work(factory) as session:
        mark_interrupted_runs(session=session, settings=settings, now=now())
        due = retraining_due(session=session, settings=settings)
        if not (due.due or force):
            return None
        policy = current_policy(session=session, settings=settings)
        # Left in place until the run finishes, so a restart mid-training does not lose it.
        request = runtime_settings(session=session).get(RETRAIN_REQUESTED)
        stamp = now()
        run = TrainingRun(
            trigger=trigger or due.trigger or "manual",
            status=TrainingRunStatus.RUNNING,
            started_at=stamp,
            heartbeat_at=stamp,
            worker=worker,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    tuned = settings.with_overrides(
        target_precision=policy.target_precision, confidence_floor=policy.confidence_floor
    )
    heartbeat = Heartbeat(factory, run_id, now, should_stop)
    ending = _Ending(factory, run_id, settings, now, request)
    try:
        with reporting_fit_progress(heartbeat):  # also inside each fit: stops within seconds
            outcome = retrain(factory, settings=tuned, now=now, progress=heartbeat.also(progress))
    except Cancelled as stop:
        return ending(
            TrainingRunStatus.ABANDONED,
            error=f"stopped at {stop.stage!r}: the worker was shutting down or lost the "
            "scheduler lease",
        )
    except TriageError as error:
        return ending(TrainingRunStatus.FAILED, error=error.reason)
    except Exception as error:  # noqa: BLE001 - a failed job must still leave a record and an alert
        log.exception("retraining failed", extra={"run": run_id})
        return ending(TrainingRunStatus.FAILED, error=f"{type(error).__name__}: {error}")
    return ending(TrainingRunStatus.SUCCEEDED, outcome=outcome)


class Heartbeat:
    """The training progress callback: beats the run's heartbeat and honours shutdown.

    The first call beats at once (the run has really started training), later ones at most
    every HEARTBEAT_EVERY; the stop flag is checked on every call.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        now: Callable[[], datetime],
        should_stop: Callable[[], bool],
    ) -> None:
        self._factory, self._run_id, self._now, self._should_stop = (
            factory,
            run_id,
            now,
            should_stop,
        )
        self._last: datetime | None = None

    def also(self, listener: Progress | None) -> Progress:
        """This heartbeat, followed by `listener` when there is one."""
        if listener is None:
            return self

        def both(stage: str, step: int, total: int) -> None:
            self(stage, step, total)
            listener(stage, step, total)

        return both

    def __call__(self, stage: str, step: int, total: int) -> None:
        if self._should_stop():
            raise Cancelled(f"{stage} {step}/{total}")
        moment = self._now()
        if self._last is not None and moment - self._last < HEARTBEAT_EVERY:
            return
        self._last = moment
        with unit_of_work(self._factory) as session:
            session.execute(
                update(TrainingRun)
                .where(TrainingRun.id == self._run_id)
                .values(heartbeat_at=moment)
            )
        log.info(
            "training", extra={"run": self._run_id, "stage": stage, "step": step, "total": total}
        )


@dataclass(frozen=True)
class _Ending:
    """Records how a run ended, announces it, and uses up the admin's request if it finished."""

    factory: sessionmaker[Session]
    run_id: int
    settings: Settings
    now: Callable[[], datetime]
    request: Any  # the RETRAIN_REQUESTED value seen at the start, or None

    def __call__(
        self,
        status: TrainingRunStatus,
        *,
        error: str | None = None,
        outcome: TrainingOutcome | None = None,
    ) -> TrainingRun:
        with unit_of_work(self.factory) as session:
            run = session.get(TrainingRun, self.run_id, with_for_update=True)
            assert run is not None
            if run.status != TrainingRunStatus.RUNNING:
                # A successor found this worker gone (a stall past its lease) and recorded
                # the run already; announcing again would tell ops twice.
                log.warning("training run already recorded", extra={"run": self.run_id})
                return run
            run.status, run.finished_at, run.error = status, self.now(), error
            run.model_version_id = None if outcome is None else outcome.version_id
            stored = session.get(RuntimeSetting, RETRAIN_REQUESTED)
            # A request made while this run trained is newer than its data: it stays.
            if status in FINISHED and stored is not None and stored.value == self.request:
                session.delete(stored)
            _announce(run, outcome, session=session, settings=self.settings, now=self.now())
            return run


def _announce(
    run: TrainingRun,
    outcome: TrainingOutcome | None,
    *,
    session: Session,
    settings: Settings,
    now: datetime,
) -> None:
    key = f"retrain-{run.id}"
    if outcome is None:
        abandoned = run.status == TrainingRunStatus.ABANDONED
        raise_alert(
            key,
            Severity.INFO if abandoned else Severity.FAILURE,
            f"Retraining #{run.id} {run.status}: {run.error}",
            what_to_do="Nothing: the active model is unchanged and the worker that holds the "
            "lease retries at its next check."
            if abandoned
            else "The active model is unchanged. Fix the cause above and run "
            "`/triage retrain` (or `triage train`).",
            details=[f"trigger: {run.trigger}"],
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )
        return
    details = [
        f"trigger: {run.trigger}",
        *metric_deltas(outcome.candidate, outcome.incumbent),
        f"trained on {outcome.n_examples:,} tickets; judged on the "
        f"{outcome.holdout_size:,} most recent answers",
        threshold_line(outcome),
        *novelty_lines(outcome),
    ]
    if outcome.promoted:
        raise_alert(
            key,
            Severity.INFO,
            f"Model v{outcome.version_id} promoted ({outcome.reason})",
            what_to_do="Nothing; web processes switch to it within a minute. "
            f"`/triage rollback {outcome.incumbent_version}` undoes it."
            if outcome.incumbent_version
            else "Nothing; web processes switch to it within a minute.",
            details=details,
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )
    else:
        raise_alert(
            key,
            Severity.WARNING,
            f"Model v{outcome.version_id} rejected: {outcome.reason}",
            what_to_do="Nothing urgent: the active model stays. Look for label noise in recent "
            "answers (`/triage reviewers`) if this repeats.",
            details=details,
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )


def threshold_line(outcome: TrainingOutcome) -> str:
    """The new model's confidence threshold, and why it is higher than the data alone allow
    when a lowering lacked the stronger evidence it needs."""
    if outcome.threshold == NEVER:
        line = "confidence threshold: none justified yet, so every ticket goes to review"
    else:
        line = f"confidence threshold {outcome.threshold:.1%}"
    if outcome.held_from is not None:
        was = (
            "while nothing is automated"
            if outcome.standing == NEVER
            else f"below the {outcome.standing:.1%} in force"
        )
        line += (
            f", not the {outcome.held_from:.1%} these answers alone allow: a threshold "
            f"{was} needs stronger evidence, as each retraining looks at mostly the same "
            "answers again"
        )
    return line


def novelty_lines(outcome: TrainingOutcome) -> list[str]:
    """What the new model's novelty detector was measured to do on held-out tickets."""
    report = outcome.novelty
    lines = []
    if report is None:
        lines.append("novelty detection: off (too few labels, or no false alarms allowed)")
    else:
        recall = report["recall_held_out_labels"]
        caught = "an unmeasured share" if recall is None else f"{recall:.0%}"
        lines.append(
            f"novelty detection: {report['false_alarm_measured']:.1%} false alarms on "
            f"held-out known tickets (allowed {report['false_alarm_target']:.0%}); catches "
            f"{caught} of tickets from labels it never saw"
        )
    if outcome.noise_rate is not None:
        lines.append(
            f"label screening: {outcome.screened:,} training labels left out as probably "
            f"wrong (an estimated {outcome.noise_rate:.1%} of labels were wrong); "
            "two agreeing answers confirm one"
            + (
                f"; the {outcome.reasked:,} likeliest asked again in the review channel"
                if outcome.reasked
                else ""
            )
        )
    if outcome.label_error >= 0.0005:  # shown to one decimal of a percent
        lines.append(
            f"label error: at least {outcome.label_error:.1%} of training labels are wrong "
            "(shown by second answers, and by imported history the model contradicts more "
            "than answered labels); thresholds and gate corrected for it"
        )
    if outcome.topics_learned:
        lines.append(f"new topics learned and closed: {outcome.topics_learned}")
    return lines


def metric_deltas(candidate: Metrics, incumbent: Metrics | None) -> list[str]:
    """'accuracy 91.2% (+0.8 pts)' lines comparing candidate with the active model."""
    lines = []
    for name, value, before in (
        ("accuracy", candidate.accuracy, None if incumbent is None else incumbent.accuracy),
        (
            "coverage at target precision",
            candidate.coverage,
            None if incumbent is None else incumbent.coverage,
        ),
        (
            "precision of automated",
            candidate.auto_precision,
            None if incumbent is None else incumbent.auto_precision,
        ),
    ):
        if value is None:
            continue
        delta = "" if before is None else f" ({(value - before) * 100:+.1f} pts)"
        lines.append(f"{name} {value:.1%}{delta}")
    return lines
