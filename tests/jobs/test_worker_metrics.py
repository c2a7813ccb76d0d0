"""The worker's own `/metrics`: its heartbeat and every Slack request it made, after real work."""

from __future__ import annotations

import socket

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from storage.models import OutboxKind, OutboxMessage
from storage.queries.outbox import enqueue
from tests.bot.metrics_scrape import scrape, value
from tests.jobs.test_worker import workers

TOKEN = "worker-metrics-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def undelivered(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        count: int = (
            session.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None))) or 0
        )
        return count


def test_worker_metrics_after_deliveries_agree_with_slack_and_the_database(
    database_url: str, factory: sessionmaker[Session], fake_slack: FakeSlack
) -> None:
    port = free_port()
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": fake_slack.base_url,
        "TRIAGE_DELIVERY_SECONDS": "1",
        "TRIAGE_WORKER_METRICS_PORT": str(port),
        "TRIAGE_METRICS_TOKEN": TOKEN,
    }
    fake_slack.fail_next("chat.postMessage", error="not_in_channel")
    with factory.begin() as session:
        for number in range(3):
            enqueue(
                OutboxKind.CHANNEL_MESSAGE,
                session=session,
                now=utc_now(),
                payload={"channel": "COPS", "text": f"hello ops {number}"},
            )
    with workers(database_url, 1, **settings) as [worker], httpx.Client(trust_env=False) as client:
        worker.wait_for_event("serving worker metrics")
        wait_until(lambda: undelivered(factory) == 0, timeout=60, what="the worker to deliver")
        url = f"http://127.0.0.1:{port}/metrics"
        assert client.get(url).status_code == 401
        samples = scrape(client, url, TOKEN)

    calls = fake_slack.calls_to("chat.postMessage")
    assert len(calls) == 4  # three posts, one of them twice
    assert value(samples, "triage_slack_api_requests_total", method="chat.postMessage") == 4
    assert (
        value(
            samples,
            "triage_slack_api_errors_total",
            method="chat.postMessage",
            error="not_in_channel",
        )
        == 1
    )
    assert value(samples, "triage_worker_leading") == 1
    assert 0 <= value(samples, "triage_worker_heartbeat_age_seconds") < 2
    assert value(samples, "process_resident_memory_bytes") > 0
