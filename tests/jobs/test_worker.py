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
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.settings import Settings
from jobs.worker import JOBS, LEASE_NAME, Worker, build_context
from storage.models import OutboxKind
from storage.queries.leases import holder_of
from storage.queries.outbox import enqueue
from tests.slack_fake import FakeSlack

START_WORKER = "from bot.cli import main; raise SystemExit(main())"


class WorkerProcess:
    """`triage worker` in a child process, with its JSON log lines collected as they come."""

    def __init__(self, database_url: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TRIAGE_WORKER_LEASE_SECONDS": "2",
            "PYTHONPATH": os.getcwd(),
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
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [e for e in self.events if e.get("event") == name]
                if found:
                    return found[-1]
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {name!r} from worker; saw {self.events}"
                self._lock.wait(remaining)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return code


@contextmanager
def workers(database_url: str, count: int) -> Iterator[list[WorkerProcess]]:
    started = [WorkerProcess(database_url) for _ in range(count)]
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


def test_scheduler_stores_its_jobs_and_delivers(
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
    worker = Worker(ctx, engine, holder="test-worker")
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
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
        assert stored == set(JOBS)
    finally:
        ctx.stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert lease_holder(factory) is None  # released on a clean stop
