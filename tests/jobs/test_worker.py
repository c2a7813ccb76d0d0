"""The worker: one leader among processes, jobs wired into APScheduler, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, inspect, update
from sqlalchemy.orm import Session, sessionmaker

from bot.cli.worker import build_context
from bot.clock import utc_now
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from bot.settings import Settings
from jobs.worker import JOBS, LEASE_NAME, Worker, triggers
from storage.models import Lease, OutboxKind
from storage.queries.leases import holder_of
from storage.queries.outbox import enqueue
from tests.jobs.conftest import Clock
from tests.jobs.helpers import (
    active_id,
    alerts,
    import_history,
    runs,
    training_has_begun,
)

START_WORKER = "from bot.cli import main; raise SystemExit(main())"


class WorkerProcess:
    """`triage worker` in a child process, with its JSON log lines collected as they come."""

    def __init__(self, database_url: str, **settings: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TRIAGE_WORKER_LEASE_SECONDS": "2",
            "PYTHONPATH": os.getcwd(),
            **settings,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", START_WORKER, "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._lock:
                self.events.append(entry)
                self._lock.notify_all()

    def wait_for_event(self, name: str, timeout: float = 30.0) -> dict:
        found = wait_until(
            lambda: [e for e in self.events if e.get("event") == name],
            timeout=timeout,
            what=f"{name!r} from the worker",
            lock=self._lock,
            describe=lambda: f"saw {self.events}",
        )
        return found[-1]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return code


@contextmanager
def workers(database_url: str, count: int, **settings: str) -> Iterator[list[WorkerProcess]]:
    started = [WorkerProcess(database_url, **settings) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.stop(signal.SIGKILL)
            if worker.process.stderr is not None:
                worker.process.stderr.close()


def lease_holder(factory: sessionmaker[Session]) -> str | None:
    with factory() as session:
        return holder_of(LEASE_NAME, session=session, now=datetime.now(UTC))


def test_one_leader_among_two_workers_and_a_clean_handover(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    with workers(database_url, 1) as [first]:
        leader = first.wait_for_event("scheduler started")["holder"]
        with workers(database_url, 1) as [second]:
            standby = second.wait_for_event("standing by: another worker holds the scheduler lease")
            assert standby["holder"] != leader
            assert lease_holder(factory) == leader
            assert not [e for e in second.events if e.get("event") == "scheduler started"]

            assert first.stop(signal.SIGTERM) == 0  # finishes, releases the lease
            assert first.wait_for_event("worker stopped")["holder"] == leader
            taken = second.wait_for_event("scheduler started")["holder"]
            assert taken == standby["holder"] == lease_holder(factory)

            second.stop(signal.SIGKILL)  # a crash: the lease is not released...
            assert lease_holder(factory) in (taken, None)
            with workers(database_url, 1) as [third]:
                # ...and a new worker takes it over once it expires (2 s here).
                assert third.wait_for_event("scheduler started")["holder"] != taken


def test_scheduler_holds_its_jobs_in_memory_and_delivers(
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": fake_slack.base_url,
            "TRIAGE_DELIVERY_SECONDS": "1",
            "TRIAGE_WORKER_LEASE_SECONDS": "3",
        },
        dotenv_path=None,
    )
    ctx = build_context(settings, factory)
    worker = Worker(ctx, holder="test-worker")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        with factory.begin() as session:
            enqueue(
                OutboxKind.CHANNEL_MESSAGE,
                session=session,
                now=utc_now(),
                payload={"channel": "COPS", "text": "hello ops"},
            )
        [call] = fake_slack.wait_for("chat.postMessage", timeout=10)
        assert call.params["channel"] == "COPS"
        assert worker.scheduled() == sorted(JOBS)
        with engine.connect() as connection:  # nothing pickled: the old job store is gone
            assert not inspect(connection).has_table("apscheduler_jobs")
    finally:
        ctx.stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert lease_holder(factory) is None  # released on a clean stop


def test_job_intervals_come_from_settings(database_url: str) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "TRIAGE_RETRAIN_CHECK_SECONDS": "7",
            "TRIAGE_DELIVERY_SECONDS": "3",
            "TRIAGE_REMINDER_CHECK_SECONDS": "15",
            "TRIAGE_ALERT_CHECK_SECONDS": "20",
            "TRIAGE_DIGEST_HOUR": "6",
        },
        dotenv_path=None,
    )
    when = triggers(settings)
    intervals = {name: when[name].interval for name in ("retrain", "deliver", "remind", "alerts")}
    assert intervals == {
        "retrain": timedelta(seconds=7),
        "deliver": timedelta(seconds=3),
        "remind": timedelta(seconds=15),
        "alerts": timedelta(seconds=20),
    }
    assert str(when["digest"]) == "cron[hour='6', minute='0']"


def test_sigterm_while_retraining_abandons_the_run_and_hands_over_at_once(
    database_url: str, factory: sessionmaker[Session], clock: Clock
) -> None:
    import_history(factory, clock, rows=1848)  # due: a first model from imported history
    # A long lease: if it is free right after the exit, the worker released it.
    settings = {"TRIAGE_RETRAIN_CHECK_SECONDS": "5", "TRIAGE_WORKER_LEASE_SECONDS": "120"}
    with workers(database_url, 1, **settings) as [worker]:
        worker.wait_for_event("scheduler started")
        wait_until(lambda: training_has_begun(factory), timeout=60, what="training to start")
        signalled = time.monotonic()
        assert worker.stop(signal.SIGTERM) == 0
        # Within Heroku's 30 s grace (the promise; it takes about a second when the machine
        # is quiet, but CI shares two cores with a second test run).
        assert time.monotonic() - signalled < 30
    assert lease_holder(factory) is None
    [run] = runs(factory)
    assert run.status == "abandoned" and run.finished_at is not None
    assert run.error is not None and "shutting down" in run.error
    assert "Retraining #1 abandoned" in alerts(factory)[-1]
    assert active_id(factory) is None


def test_a_leader_that_loses_its_lease_stops_its_training(
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
    clock: Clock,
) -> None:
    import_history(factory, clock, rows=1848)
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": fake_slack.base_url,
            "TRIAGE_RETRAIN_CHECK_SECONDS": "5",
            "TRIAGE_WORKER_LEASE_SECONDS": "3",
        },
        dotenv_path=None,
    )
    ctx = build_context(settings, factory)
    thread = threading.Thread(target=Worker(ctx, holder="old-leader").run)
    thread.start()
    try:
        wait_until(lambda: training_has_begun(factory), timeout=60, what="training to start")
        with factory.begin() as session:  # another worker took over (say this one stalled)
            session.execute(
                update(Lease)
                .where(Lease.name == LEASE_NAME)
                .values(holder="new-leader", expires_at=utc_now() + timedelta(hours=1))
            )
        wait_until(lambda: runs(factory)[0].status != "running", timeout=30, what="the run to end")
        [run] = runs(factory)
        assert run.status == "abandoned" and active_id(factory) is None
        assert thread.is_alive()  # standing by, not crashed
        assert lease_holder(factory) == "new-leader"
    finally:
        ctx.stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
