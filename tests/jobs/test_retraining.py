"""The retraining job: when it is due, what it records, and that failures never touch the
active model."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.sandbox.slack.waiting import wait_until
from bot.services.importing import import_labelled_rows
from bot.services.policy import RETRAIN_REQUESTED
from bot.settings import Settings
from jobs.retraining import mark_interrupted_runs, retraining_due, run_retraining
from storage.models import (
    ModelStatus,
    ModelVersion,
    Review,
    TrainingRun,
    TrainingRunStatus,
)
from storage.queries.heartbeats import beat
from storage.queries.runtime_settings import runtime_settings, set_runtime_setting
from tests.conftest import SAMPLE_HOLDOUT
from tests.jobs.conftest import Clock
from tests.jobs.helpers import (
    active_id,
    add_ticket,
    alerts,
    answer,
    import_history,
    runs,
    sample,
    training_has_begun,
)


def add_run(factory: sessionmaker[Session], clock: Clock, status: TrainingRunStatus) -> None:
    """A past attempt, as the job records one."""
    with factory.begin() as session:
        session.add(
            TrainingRun(trigger="test", status=status, started_at=clock(), heartbeat_at=clock())
        )


def due_now(factory: sessionmaker[Session], settings: Settings) -> tuple[bool, str, int]:
    with factory() as session:
        due = retraining_due(session=session, settings=settings)
    return due.due, due.trigger, due.new_answers


def request_retraining(factory: sessionmaker[Session], clock: Clock, by: str) -> None:
    with factory.begin() as session:
        value = {"by": by, "at": clock().isoformat()}
        set_runtime_setting(RETRAIN_REQUESTED, value, session=session, actor=by, now=clock())


def stored_request(factory: sessionmaker[Session]) -> dict | None:
    with factory() as session:
        return runtime_settings(session=session).get(RETRAIN_REQUESTED)


def test_first_model_then_due_only_after_enough_answers_or_a_request(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    assert run_retraining(factory, settings=job_settings, now=clock) is None  # nothing to learn
    import_history(factory, clock, rows=1)
    assert run_retraining(factory, settings=job_settings, now=clock) is None  # too little yet
    import_history(factory, clock)
    first = run_retraining(factory, settings=job_settings, now=clock)
    assert first is not None and first.status == "succeeded"
    assert first.trigger == "first model from imported history"
    assert active_id(factory) == first.model_version_id
    assert "promoted" in alerts(factory)[-1] and "accuracy" in alerts(factory)[-1]

    clock.advance(minutes=5)
    assert run_retraining(factory, settings=job_settings, now=clock) is None
    ticket = add_ticket(
        factory,
        clock(),
        status="labelled",
        final_label="card_arrival",
        decided_by="U1",
        decided_at=clock(),
    )
    with factory.begin() as session:
        for user in ("U1", "U2"):
            session.add(
                Review(
                    ticket_id=ticket,
                    slack_user=user,
                    label="card_arrival",
                    kind="review",
                    created_at=clock(),
                )
            )
        session.add(
            Review(ticket_id=ticket, slack_user="U3", label=None, kind="review", created_at=clock())
        )  # skips do not count
    with factory() as session:
        due = retraining_due(session=session, settings=job_settings)
    assert (due.due, due.new_answers) == (False, 2)

    with factory.begin() as session:
        set_runtime_setting(
            RETRAIN_REQUESTED,
            {"by": "UADMIN", "at": "now"},
            session=session,
            actor="UADMIN",
            now=clock(),
        )
    second = run_retraining(factory, settings=job_settings, now=clock)
    assert second is not None and second.trigger == "requested by <@UADMIN>"
    with factory() as session:
        assert RETRAIN_REQUESTED not in runtime_settings(session=session)  # consumed


def test_failure_and_shutdown_leave_the_active_model_alone(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    add_ticket(
        factory, clock(), status="labelled", final_label="a", decided_by="U1", decided_at=clock()
    )
    failed = run_retraining(factory, settings=job_settings, now=clock, force=True)
    assert failed is not None and failed.status == "failed"
    assert "Not enough labelled tickets" in (failed.error or "")
    assert "Retraining #1 failed" in alerts(factory)[-1]

    import_history(factory, clock, rows=300)
    abandoned = run_retraining(
        factory, settings=job_settings, now=clock, force=True, should_stop=lambda: True
    )
    assert abandoned is not None and abandoned.status == "abandoned"
    assert active_id(factory) is None
    with factory() as session:
        assert session.scalars(select(ModelVersion)).all() == []


KILLED_TRAINING = textwrap.dedent(
    """
    import sys, time
    from bot.clock import utc_now
    from bot.settings import Settings
    from jobs.retraining import run_retraining
    from storage.database import create_db_engine, session_factory

    settings = Settings.from_env({"DATABASE_URL": sys.argv[1]}, dotenv_path=None)
    factory = session_factory(create_db_engine(settings.database_url))
    run_retraining(factory, settings=settings, now=utc_now, force=True)
    """
)


def test_retraining_killed_halfway_is_reported_and_changes_nothing(
    database_url: str, factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock, rows=1848)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINING, database_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        # Killed once it is really training: examples read and the first fold being fitted
        # (the heartbeat beats at the first progress point), not while the RUNNING row is new.
        wait_until(lambda: training_has_begun(factory), timeout=60, what="training to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

    assert active_id(factory) is None
    with factory.begin() as session:  # the child beat on the real clock: a day after it, stale
        later = utc_now() + timedelta(days=1)
        assert mark_interrupted_runs(session=session, settings=job_settings, now=later) == 1
    [run] = runs(factory)
    assert run.status == "interrupted" and run.model_version_id is None
    assert "was interrupted" in alerts(factory)[-1]
    with factory() as session:
        assert session.scalars(select(ModelVersion)).all() == []


@pytest.fixture(autouse=True)
def _quiet_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


def test_new_answers_count_from_the_last_run_that_finished(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    add_run(factory, clock, TrainingRunStatus.SUCCEEDED)
    answer(factory, clock, [("Where is my card?", "card_arrival")] * 2)
    assert due_now(factory, job_settings) == (False, "", 2)
    answer(factory, clock, [("Where is my card?", "card_arrival")])
    assert due_now(factory, job_settings) == (True, "3 new answers", 3)  # N answers: due

    for status in (TrainingRunStatus.ABANDONED, TrainingRunStatus.INTERRUPTED):
        clock.advance(minutes=1)
        add_run(factory, clock, status)  # learned nothing: the answers still count
        assert due_now(factory, job_settings) == (True, "3 new answers", 3)

    clock.advance(minutes=1)
    add_run(factory, clock, TrainingRunStatus.RUNNING)
    assert due_now(factory, job_settings)[0] is False  # one run at a time
    with factory.begin() as session:  # that run stopped
        session.execute(
            update(TrainingRun)
            .where(TrainingRun.status == TrainingRunStatus.RUNNING)
            .values(status=TrainingRunStatus.ABANDONED)
        )

    clock.advance(minutes=1)
    add_run(factory, clock, TrainingRunStatus.FAILED)  # a finished attempt uses them up
    assert due_now(factory, job_settings) == (False, "", 0)


def test_a_failure_for_lack_of_data_waits_for_new_answers(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    answer(factory, clock, [("Where is my card?", "card_arrival")] * 3)
    failed = run_retraining(factory, settings=job_settings, now=clock)
    assert failed is not None and failed.status == "failed"
    assert "Not enough labelled tickets" in (failed.error or "")
    clock.advance(minutes=1)
    assert run_retraining(factory, settings=job_settings, now=clock) is None  # not every minute
    answer(factory, clock, [("How do I top up?", "top_up_failed")] * 3)
    again = run_retraining(factory, settings=job_settings, now=clock)
    assert again is not None and again.status == "failed" and again.trigger == "3 new answers"


def test_a_request_survives_an_abandoned_run_and_a_newer_one_survives_success(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock)
    add_run(factory, clock, TrainingRunStatus.SUCCEEDED)  # the imported history was learned
    request_retraining(factory, clock, "UADMIN")
    abandoned = run_retraining(factory, settings=job_settings, now=clock, should_stop=lambda: True)
    assert abandoned is not None and abandoned.status == "abandoned"
    assert abandoned.error is not None and "cross-validation" in abandoned.error
    assert stored_request(factory) == {"by": "UADMIN", "at": clock().isoformat()}  # given back
    assert "abandoned" in alerts(factory)[-1] and "retries at its next check" in alerts(factory)[-1]

    asked_again: list[bool] = []

    def an_admin_asks_again_while_it_trains() -> bool:
        if not asked_again:
            clock.advance(seconds=30)
            request_retraining(factory, clock, "UOTHER")
            asked_again.append(True)
        return False

    clock.advance(minutes=1)
    retried = run_retraining(
        factory, settings=job_settings, now=clock, should_stop=an_admin_asks_again_while_it_trains
    )
    assert retried is not None and retried.status == "succeeded"
    assert retried.trigger == "requested by <@UADMIN>"
    # The run used up the request it started for, not the one made after its data was read.
    assert due_now(factory, job_settings)[:2] == (True, "requested by <@UOTHER>")


def test_a_worse_candidate_is_rejected_and_the_active_model_stays(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    history = sample()
    import_history(factory, clock, rows=600)
    first = run_retraining(factory, settings=job_settings, now=clock)
    assert first is not None and first.status == "succeeded"
    clock.advance(hours=1)
    noisy = [(row.text, row.label) for row in history[600:1200]]
    shuffled = [label for _, label in noisy]
    random.Random(0).shuffle(shuffled)  # careless answers: each one a random label
    answer(
        factory, clock, [(text, label) for (text, _), label in zip(noisy, shuffled, strict=True)]
    )
    answer(factory, clock, [(row.text, row.label) for row in sample(SAMPLE_HOLDOUT)[:150]])

    run = run_retraining(factory, settings=job_settings, now=clock)
    assert run is not None and run.status == "succeeded"
    assert active_id(factory) == first.model_version_id  # unchanged
    with factory() as session:
        rejected = session.get(ModelVersion, run.model_version_id)
        assert rejected is not None and rejected.status == ModelStatus.REJECTED
        metrics = rejected.metrics
    assert metrics["incumbent_version"] == first.model_version_id
    assert metrics["holdout_size"] == 135 and metrics["gate"].startswith("worse than")
    candidate, incumbent = metrics["holdout"], metrics["incumbent_holdout"]
    assert candidate["accuracy"] < incumbent["accuracy"] - 0.1  # it learnt the noise
    alert = alerts(factory)[-1]
    assert f"Model v{run.model_version_id} rejected: worse than the active model" in alert
    drop = (candidate["accuracy"] - incumbent["accuracy"]) * 100
    assert f"accuracy {candidate['accuracy']:.1%} ({drop:+.1f} pts)" in alert
    assert "coverage at target precision" in alert
    assert "the active model stays" in alert


def test_a_promoted_model_is_announced_with_its_metric_deltas(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock)
    first = run_retraining(factory, settings=job_settings, now=clock)
    assert first is not None and first.status == "succeeded"
    clock.advance(hours=1)
    answer(factory, clock, [(row.text, row.label) for row in sample(SAMPLE_HOLDOUT)[:100]])

    second = run_retraining(factory, settings=job_settings, now=clock)
    assert second is not None and second.trigger == "100 new answers"
    assert active_id(factory) == second.model_version_id != first.model_version_id
    with factory() as session:
        version = session.get(ModelVersion, second.model_version_id)
        assert version is not None
        candidate, incumbent = version.metrics["holdout"], version.metrics["incumbent_holdout"]
    alert = alerts(factory)[-1]
    assert f"Model v{second.model_version_id} promoted (not worse than the active model)" in alert
    for name, key in (("accuracy", "accuracy"), ("coverage at target precision", "coverage")):
        delta = (candidate[key] - incumbent[key]) * 100
        assert f"{name} {candidate[key]:.1%} ({delta:+.1f} pts)" in alert
    assert f"/triage rollback {first.model_version_id}" in alert


def test_retraining_screens_planted_wrong_labels_and_says_how_many(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    rows = sample()[:1200]
    names = sorted({row.label for row in rows})
    rng = random.Random(0)
    for i in rng.sample(range(len(rows)), 60):
        wrong = rng.choice([name for name in names if name != rows[i].label])
        rows[i] = dataclasses.replace(rows[i], label=wrong)
    with factory.begin() as session:
        import_labelled_rows(rows, session=session, now=clock())

    run = run_retraining(factory, settings=job_settings, now=clock)
    assert run is not None and run.status == "succeeded"
    with factory() as session:
        version = session.get(ModelVersion, run.model_version_id)
        assert version is not None
        screening, n_examples = version.metrics["screening"], version.n_examples
    assert 0 < screening["screened"] <= 0.1 * len(rows)
    assert n_examples == len(rows) - screening["screened"]
    assert (
        f"label screening: {screening['screened']:,} training labels left out"
        in (alerts(factory)[-1])
    )

    clock.advance(hours=1)
    off = job_settings.with_overrides(label_screening_max=0.0)
    again = run_retraining(factory, settings=off, now=clock, force=True)
    assert again is not None and again.status == "succeeded"
    with factory() as session:
        version = session.get(ModelVersion, again.model_version_id)
        assert version is not None and version.metrics["screening"]["screened"] == 0


def test_a_run_whose_worker_stopped_beating_for_a_lease_is_interrupted_at_once(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    lease = timedelta(seconds=job_settings.worker_lease_seconds)
    with factory.begin() as session:
        for holder, worker_beat in (("host:1", clock() - 2 * lease), ("host:2", clock())):
            beat(holder, host="host", leading=holder == "host:2", session=session, now=worker_beat)
        for worker in ("host:1", "host:2", None):  # a dead worker's, a live one's, a shell's
            run = TrainingRun(
                trigger="test",
                status=TrainingRunStatus.RUNNING,
                started_at=clock() - lease,
                heartbeat_at=clock() - lease,  # well within STALE_AFTER of training steps
                worker=worker,
            )
            session.add(run)
    with factory.begin() as session:
        assert mark_interrupted_runs(session=session, settings=job_settings, now=clock()) == 1
    assert [(r.worker, r.status) for r in runs(factory)] == [
        ("host:1", "interrupted"),
        ("host:2", "running"),
        (None, "running"),
    ]
    assert "Retraining #1 was interrupted" in alerts(factory)[-1]


def test_the_alert_says_when_a_threshold_was_kept_higher_than_the_answers_alone_allow(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock, rows=len(sample()))
    first = run_retraining(factory, settings=job_settings, now=clock)
    assert first is not None and first.status == "succeeded"
    with factory.begin() as session:  # as if that model automated nothing
        version = session.get_one(ModelVersion, first.model_version_id)
        version.thresholds = {**version.thresholds, "default": None}

    clock.advance(hours=1)
    again = run_retraining(factory, settings=job_settings, now=clock, force=True)
    assert again is not None and again.status == "succeeded"
    with factory() as session:
        version = session.get_one(ModelVersion, again.model_version_id)
        held, threshold = version.metrics["lowering_held"], version.thresholds["default"]
    assert held is not None and held["standing"] is None
    assert held["usual"] < threshold
    assert (
        f"confidence threshold {threshold:.1%}, not the {held['usual']:.1%} these answers alone "
        "allow: a threshold while nothing is automated needs stronger evidence"
    ) in alerts(factory)[-1]
    first_alert = alerts(factory)[0]
    assert "confidence threshold" in first_alert and "stronger evidence" not in first_alert
