"""`/metrics` after real traffic: every figure checked against the database and the fake Slack."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.clock import utc_now
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from classifier import TrainedModel
from jobs.retraining import run_retraining
from storage.models import OutboxMessage, Ticket, TicketStatus
from storage.queries.heartbeats import beat
from storage.queries.leases import SCHEDULER_LEASE, acquire_or_renew
from tests.bot.conftest import (
    REVIEW_CHANNEL,
    RunningWeb,
    install_model,
    serving,
    web_settings,
)
from tests.bot.metrics_scrape import Samples, scrape, series, value
from tests.bot.steps import click, review_message
from tests.conftest import REPO, SAMPLE_HOLDOUT

METRICS_TOKEN = "metrics-secret-1"
DASHBOARD = REPO / "deploy" / "grafana" / "triage-loop.json"


@pytest.fixture
def metered(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> Iterator[RunningWeb]:
    """The web process with a metrics token, audits on, and the sample model active."""
    settings = web_settings(
        database_url,
        fake_slack,
        slack_signing_secret,
        TRIAGE_METRICS_TOKEN=METRICS_TOKEN,
        TRIAGE_AUDIT_RATE="0.5",
    )
    with serving(settings, engine, fake_slack) as web:
        yield web


def holdout_texts(count: int) -> list[str]:
    with SAMPLE_HOLDOUT.open(newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)][:count]


def test_metrics_need_the_token_when_one_is_set(metered: RunningWeb) -> None:
    url = metered.url + "/metrics"
    assert metered.client.get(url).status_code == 401
    wrong = metered.client.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "TRIAGE_METRICS_TOKEN" in wrong.json()["error"]
    assert metered.client.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).is_success


def test_metrics_after_real_traffic_agree_with_the_database_and_slack(
    metered: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    web, fake = metered, metered.fake
    version = install_model(factory, trained)
    fake.fail_next("chat.postMessage", 429, retry_after=0)  # retried by the client at once
    fake.fail_next("chat.postMessage", error="channel_not_found")  # the deliverer retries
    texts = holdout_texts(24)
    for number, text in enumerate(texts):
        source = "zendesk" if number % 3 == 0 else "api"
        response = web.api("POST", "/api/tickets", json={"text": text, "source": source})
        assert response.status_code == 201
    assert web.api("GET", "/api/tickets/1").status_code == 200
    assert web.api("GET", "/api/tickets/999999").status_code == 404

    with factory() as session:
        posted = session.scalar(select(func.count()).where(Ticket.decision != "auto"))
    assert posted, "the sample should send some tickets to people"
    review_message(web, count=posted)
    with factory() as session:  # a person confirms one blind audit
        audit = session.scalars(select(Ticket).where(Ticket.decision == "audit")).first()
    assert audit is not None, "half the confident tickets should be audits"
    [message] = [m for m in fake.messages(REVIEW_CHANNEL) if m["ts"] == audit.slack_ts]
    label = str(audit.predicted_label)
    status, _ = click(
        web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option=label
    )
    assert status == 200
    fake.wait_until(lambda: fake.calls_to("chat.update"), what="the decided card's update")

    with factory.begin() as session:  # a worker leads; a retraining failed for lack of data
        now = utc_now()
        ttl = timedelta(seconds=30)
        acquire_or_renew(SCHEDULER_LEASE, "host:1", session=session, now=now, ttl=ttl)
        beat("host:1", host="host", leading=True, session=session, now=now)
    run = run_retraining(factory, settings=web.process.deps.settings, now=utc_now, force=True)
    assert run is not None and run.status == "failed"

    def slack_posts_counted() -> Samples | None:
        """A scrape once the app has counted every chat.postMessage the fake received.

        The fake records a call when the request arrives and the app counts it when the
        answer returns, so a delivery in flight (the deliverer's retry) is briefly seen by one
        and not yet by the other.
        """
        samples = scrape(web.client, web.url + "/metrics", METRICS_TOKEN)
        counted = value(samples, "triage_slack_api_requests_total", method="chat.postMessage")
        return samples if counted == len(fake.calls_to("chat.postMessage")) else None

    samples = wait_until(
        slack_posts_counted, timeout=15.0, what="the app counting every chat.postMessage"
    )

    with factory() as session:
        by_kind = {
            (source, decision): count
            for source, decision, count in session.execute(
                select(Ticket.source, Ticket.decision, func.count()).group_by(
                    Ticket.source, Ticket.decision
                )
            )
        }
        pending = session.scalar(select(func.count()).where(Ticket.status == TicketStatus.PENDING))
        waiting = dict(
            session.execute(
                select(OutboxMessage.kind, func.count())
                .where(OutboxMessage.delivered_at.is_(None))
                .group_by(OutboxMessage.kind)
            ).all()
        )
        audits_answered = session.scalar(
            select(func.count()).where(Ticket.decision == "audit", Ticket.decided_by.is_not(None))
        )
    tickets = series(samples, "triage_tickets_total")
    assert {(dict(k)["source"], dict(k)["decision"]): v for k, v in tickets.items()} == {
        key: float(n) for key, n in by_kind.items()
    }
    assert sum(tickets.values()) == len(texts)
    assert value(samples, "triage_review_backlog") == pending
    assert value(samples, "triage_review_oldest_age_seconds") >= 0
    assert value(samples, "triage_audits_answered") == audits_answered
    assert value(samples, "triage_active_model_version") == version
    assert value(samples, "triage_target_precision") == 0.95
    depth = series(samples, "triage_outbox_depth")
    assert {dict(k)["kind"]: v for k, v in depth.items()} == {
        kind: float(n) for kind, n in waiting.items()
    }

    # HTTP: 24 tickets created, one read, one missing, one Slack click, by route template.
    assert value(
        samples, "triage_http_requests_total", route="/api/tickets", method="POST", status="201"
    ) == len(texts)
    assert (
        value(
            samples,
            "triage_http_requests_total",
            route="/api/tickets/{ticket_id}",
            method="GET",
            status="404",
        )
        == 1
    )
    assert value(
        samples, "triage_http_request_duration_seconds_count", route="/api/tickets", method="POST"
    ) == len(texts)
    assert value(
        samples,
        "triage_http_request_duration_seconds_bucket",
        route="/api/tickets",
        method="POST",
        le="+Inf",
    ) == len(texts)

    # Slack: what the fake received, request by request, counted by this process (above).
    assert value(samples, "triage_slack_rate_limited_total", method="chat.postMessage") == 1
    assert (
        value(samples, "triage_slack_api_errors_total", method="chat.postMessage", error="http_429")
        == 1
    )
    assert (
        value(
            samples,
            "triage_slack_api_errors_total",
            method="chat.postMessage",
            error="channel_not_found",
        )
        == 1
    )

    # The worker and the training, from the database.
    assert value(samples, "triage_worker_leader") == 1
    assert value(samples, "triage_worker_leader_heartbeat_age_seconds") < 30
    assert value(samples, "triage_training_runs_total", outcome="failed") == 1
    assert value(samples, "triage_training_duration_seconds_count") == 1
    assert value(samples, "triage_database_up") == 1
    assert value(samples, "triage_audit_precision", bound="estimate") == 1.0

    # The Grafana dashboard draws only metrics that exist.
    names = {name for name, _ in samples}
    assert dashboard_metric_names() <= names, dashboard_metric_names() - names


def dashboard_metric_names() -> set[str]:
    """Every metric name the shipped Grafana dashboard queries."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    return {name for query in queries for name in re.findall(r"\btriage_[a-z_]+", query)}
