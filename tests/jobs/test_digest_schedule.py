"""The digest's schedule survives leader changes: a missed slot is sent once, late; never twice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli.worker import build_context
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from bot.settings import Settings
from jobs.digest import digest_slot, send_due_digest
from jobs.worker import Worker
from storage.models import OutboxKind, OutboxMessage, ScheduleSlot
from tests.jobs.conftest import Clock

DIGEST_HOUR = 9


def digest_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.DIGEST)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def worker_settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": fake_slack.base_url,
            "TRIAGE_ALERTS_CHANNEL": "CALERTS",
            "TRIAGE_DIGEST_HOUR": str(DIGEST_HOUR),
            "TRIAGE_DELIVERY_SECONDS": "1",
            "TRIAGE_WORKER_LEASE_SECONDS": "3",
        },
        dotenv_path=None,
    )


def test_the_slot_is_the_latest_digest_hour_at_or_before_now() -> None:
    assert digest_slot(at(23, 8, 59), DIGEST_HOUR) == at(22, 9)
    assert digest_slot(at(23, 9), DIGEST_HOUR) == at(23, 9)
    assert digest_slot(at(23, 23, 59), DIGEST_HOUR) == at(23, 9)


def test_a_first_start_records_the_slot_and_sends_nothing(
    factory: sessionmaker[Session], worker_settings: Settings
) -> None:
    with factory.begin() as session:
        assert not send_due_digest(session=session, settings=worker_settings, now=at(23, 10))
    assert digest_rows(factory) == []
    with factory.begin() as session:  # the next day's slot is due as usual
        assert send_due_digest(session=session, settings=worker_settings, now=at(24, 9))
    assert len(digest_rows(factory)) == 1


@contextmanager
def leading(
    settings: Settings, factory: sessionmaker[Session], clock: Clock, holder: str
) -> Iterator[Worker]:
    """A worker thread on the test's clock, stopped cleanly (lease released) on exit."""
    ctx = build_context(settings, factory, now=clock)
    worker = Worker(ctx, holder=holder)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        yield worker
    finally:
        ctx.stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_digest_due_during_a_leader_change_is_sent_once_late(
    factory: sessionmaker[Session],
    worker_settings: Settings,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="jobs.worker")

    def digest_runs() -> int:
        return sum(1 for r in caplog.records if getattr(r, "job", None) == "digest")

    # Yesterday's digest went out on time (the slot before it was recorded first).
    with factory.begin() as session:
        send_due_digest(session=session, settings=worker_settings, now=at(21, 10))
        assert send_due_digest(session=session, settings=worker_settings, now=at(22, 9))
    clock = Clock(at(23, 8, 50))
    runs = digest_runs()
    with leading(worker_settings, factory, clock, "leader-a"):  # leads until before 09:00
        wait_until(lambda: digest_runs() > runs, timeout=15, what="leader A's digest job")
    assert len(digest_rows(factory)) == 1  # today's slot had not come yet

    clock.moment = at(23, 9, 40)  # no worker led at 09:00
    runs = digest_runs()
    with leading(worker_settings, factory, clock, "leader-b"):
        wait_until(lambda: digest_runs() > runs, timeout=15, what="leader B's digest job")
        sent = fake_slack.wait_for(
            lambda c: c.method == "chat.postMessage" and "digest" in c.params.get("text", ""),
            count=2,
            timeout=15,
        )
    late = digest_rows(factory)[-1]
    assert late.created_at == at(23, 9, 40)  # sent once the new leader started: late
    assert [c.params["channel"] for c in sent] == ["CALERTS", "CALERTS"]

    clock.moment = at(23, 9, 50)  # another leader change the same day: nothing more
    runs = digest_runs()
    with leading(worker_settings, factory, clock, "leader-c"):
        wait_until(lambda: digest_runs() > runs, timeout=15, what="leader C's digest job")
    assert len(digest_rows(factory)) == 2
    with factory() as session:
        assert session.get(ScheduleSlot, "digest").slot == at(23, 9)  # type: ignore[union-attr]


def test_two_leaders_claiming_the_same_slot_send_one_digest(
    factory: sessionmaker[Session], worker_settings: Settings
) -> None:
    with factory.begin() as session:
        send_due_digest(session=session, settings=worker_settings, now=at(22, 10))
    barrier = threading.Barrier(2)
    sent: list[bool] = []

    def claim() -> None:
        barrier.wait()
        with factory.begin() as session:
            sent.append(send_due_digest(session=session, settings=worker_settings, now=at(23, 9)))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(sent) == [False, True]
    with factory() as session:
        count = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.DIGEST)
        )
    assert count == 1
