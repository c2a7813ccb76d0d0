"""Two workers under load on PostgreSQL: the leader is SIGKILLed in the middle of a retraining
while tickets keep arriving through `triage serve`. The standby takes the lease over, records
the dead leader's run as interrupted at its first check, trains again, and nothing reaches
Slack twice: not a review message, not an alert."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from jobs.retraining import STALE_AFTER
from storage.models import Alert, OutboxMessage, Ticket, TrainingRunStatus
from storage.queries.heartbeats import heartbeat_of
from tests.bot.conftest import ALERTS_CHANNEL, API_TOKEN, REVIEW_CHANNEL, web_settings
from tests.bot.web_processes import serve_processes
from tests.conftest import SAMPLE_HOLDOUT
from tests.jobs.conftest import Clock
from tests.jobs.helpers import active_id, import_history, runs, sample, training_has_begun
from tests.jobs.test_worker import workers

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="several worker hosts need PostgreSQL"
)

LEASE_SECONDS = 3


@contextmanager
def intake(url: str) -> Iterator[list[int]]:
    """Tickets posted one after another until the block ends; yields their status codes."""
    statuses: list[int] = []
    texts = [row.text for row in sample(SAMPLE_HOLDOUT)]
    done = threading.Event()

    def send() -> None:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        with httpx.Client(trust_env=False, timeout=30, headers=headers) as client:
            n = 0
            while not done.wait(0.05):
                body = {"text": texts[n % len(texts)], "source": "load", "external_id": f"t{n}"}
                statuses.append(client.post(url + "/api/tickets", json=body).status_code)
                n += 1

    thread = threading.Thread(target=send)
    thread.start()
    try:
        yield statuses
    finally:
        done.set()
        thread.join(timeout=60)


def undelivered(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        pending = OutboxMessage.delivered_at.is_(None)
        return int(session.scalar(select(func.count()).where(pending)) or 0)


def posts_to(fake: FakeSlack, channel: str) -> list[dict]:
    """Top-level messages Slack accepted in `channel`: (ts, fallback text) of each post."""
    return [
        {"ts": call.response["ts"], "text": call.params.get("text")}
        for call in fake.calls_to("chat.postMessage")
        if call.ok and call.params["channel"] == channel and "thread_ts" not in call.params
    ]


def test_a_killed_leader_is_replaced_and_its_retraining_run_again_without_double_posts(
    database_url: str,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    clock: Clock,
    tmp_path: Path,
) -> None:
    import_history(factory, clock)  # due: a first model from imported history
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    worker_env = {
        **settings.to_env(),
        "TRIAGE_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "TRIAGE_RETRAIN_CHECK_SECONDS": "5",
        # The web process delivers; a worker killed holding outbox claims would only delay
        # those posts by the claims' lease, which this test would then sit through.
        "TRIAGE_DELIVERY_SECONDS": "3600",
    }
    with (
        serve_processes(settings, tmp_path / "run", processes=1) as serve,
        intake(serve.url) as statuses,
        workers(database_url, 1, **worker_env) as [leader],
    ):
        killed = leader.wait_for_event("scheduler started", timeout=60)["holder"]
        with workers(database_url, 1, **worker_env) as [standby]:
            holder = standby.wait_for_event("standing by: another worker holds the scheduler lease")
            wait_until(lambda: training_has_begun(factory), timeout=120, what="training to start")
            leader.stop(signal.SIGKILL)
            assert standby.wait_for_event("scheduler started")["holder"] == holder["holder"]
            wait_until(
                lambda: len(runs(factory)) == 2 and runs(factory)[1].status != "running",
                timeout=180,
                what="the standby's retraining to finish",
            )
            first, second = runs(factory)
            with factory() as session:
                dead, new = (
                    heartbeat_of(killed, session=session),
                    heartbeat_of(holder["holder"], session=session),
                )
            assert dead is not None and new is not None and new.leading_since is not None
            # The standby led within the lease (and its renewal period) of the last beat...
            assert new.leading_since - dead.beat_at <= timedelta(seconds=2 * LEASE_SECONDS)
            # ...and found the run dead at once, not after a training step's STALE_AFTER.
            assert first.status == TrainingRunStatus.INTERRUPTED and first.worker == killed
            assert first.finished_at is not None
            assert first.finished_at - dead.beat_at < STALE_AFTER
            assert second.status == TrainingRunStatus.SUCCEEDED
            assert second.worker == holder["holder"] and active_id(factory) is not None
            assert standby.stop(signal.SIGTERM) == 0
    assert statuses and set(statuses) == {201}

    wait_until(lambda: undelivered(factory) == 0, timeout=120, what="every post delivered")
    with factory() as session:
        reviewed = list(
            session.scalars(select(Ticket.slack_ts).where(Ticket.slack_ts.is_not(None)))
        )
        waiting = session.scalar(
            select(func.count()).where(Ticket.decision == "review", Ticket.slack_ts.is_(None))
        )
        alert_ts = list(session.scalars(select(Alert.slack_ts)))
    reviews = posts_to(fake_slack, REVIEW_CHANNEL)
    assert waiting == 0 and reviewed
    assert sorted(p["ts"] for p in reviews) == sorted(reviewed)  # one post per ticket
    channel = posts_to(fake_slack, ALERTS_CHANNEL)
    assert None not in alert_ts and set(alert_ts) <= {p["ts"] for p in channel}
    repeated = [text for text, n in Counter(p["text"] for p in channel).items() if n > 1]
    assert repeated == []  # no alert, digest or announcement said twice
    interrupted = [p for p in channel if f"Retraining #{first.id} was interrupted" in p["text"]]
    assert len(interrupted) == 1
