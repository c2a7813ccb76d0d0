"""`/healthz`, `/readyz` and the web process's alert when no worker leads, on a moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack
from classifier import TrainedModel
from storage.database import create_db_engine
from storage.queries.heartbeats import beat, stopped
from storage.queries.leases import SCHEDULER_LEASE, acquire_or_renew, release
from tests.bot.conftest import (
    ALERTS_CHANNEL,
    NOW,
    RunningWeb,
    install_model,
    serving,
    web_settings,
)
from tests.jobs.conftest import Clock

TTL = timedelta(seconds=30)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def clocked_web(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    clock: Clock,
) -> Iterator[RunningWeb]:
    """The web process on the test's clock, checking for a leader every 50 ms."""
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    with serving(settings, engine, fake_slack, now=clock, leader_check_seconds=0.05) as web:
        yield web


def lead(factory: sessionmaker[Session], holder: str, clock: Clock) -> None:
    with factory.begin() as session:
        assert acquire_or_renew(SCHEDULER_LEASE, holder, session=session, now=clock(), ttl=TTL)
        beat(holder, host="worker-host", leading=True, session=session, now=clock())


def test_healthz_names_the_leader_and_the_age_of_its_heartbeat(
    clocked_web: RunningWeb, factory: sessionmaker[Session], clock: Clock
) -> None:
    body = clocked_web.client.get(clocked_web.url + "/healthz").json()
    assert body["ok"] is True and body["worker"]["leader"] is None
    assert body["worker"]["last_led_at"] is None

    lead(factory, "worker-host:41", clock)
    clock.advance(seconds=7)
    body = clocked_web.client.get(clocked_web.url + "/healthz").json()
    assert body["worker"]["leader"] == "worker-host:41"
    assert body["worker"]["leader_heartbeat_age_seconds"] == 7.0
    assert body["worker"]["leading_since"] == NOW.isoformat()
    assert body["worker"]["seconds_without_leader"] is None

    with factory.begin() as session:  # a clean stop
        release(SCHEDULER_LEASE, "worker-host:41", session=session)
        stopped("worker-host:41", session=session, now=clock())
    clock.advance(minutes=2)
    worker = clocked_web.client.get(clocked_web.url + "/healthz").json()["worker"]
    assert worker["leader"] is None and worker["seconds_without_leader"] == 120.0


def test_readyz_tells_can_serve_from_fully_healthy(
    clocked_web: RunningWeb,
    factory: sessionmaker[Session],
    clock: Clock,
    trained: TrainedModel,
) -> None:
    ready = clocked_web.client.get(clocked_web.url + "/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["can_serve"] is True and body["healthy"] is False
    checks = body["checks"]
    assert checks["database"]["ok"] and not checks["worker"]["ok"] and not checks["model"]["ok"]
    assert "no worker has led" in checks["worker"]["detail"]
    assert "no active model" in checks["model"]["detail"]
    assert clocked_web.client.get(clocked_web.url + "/readyz?full=1").status_code == 503

    lead(factory, "worker-host:41", clock)
    version = install_model(factory, trained)
    ready = clocked_web.client.get(clocked_web.url + "/readyz?full=1")
    assert ready.status_code == 200, ready.text
    assert ready.json()["healthy"] is True
    assert ready.json()["checks"]["model"]["detail"] == f"model v{version} active"


def test_readyz_and_healthz_say_a_process_without_its_database_cannot_serve(
    tmp_path: Path, fake_slack: FakeSlack, slack_signing_secret: str
) -> None:
    url = f"sqlite:///{tmp_path}/missing/dir/x.db"
    engine = create_db_engine(url)
    try:
        with serving(
            web_settings(url, fake_slack, slack_signing_secret), engine, fake_slack
        ) as web:
            ready = web.client.get(web.url + "/readyz")
            health = web.client.get(web.url + "/healthz")
    finally:
        engine.dispose()
    assert ready.status_code == 503 and ready.json()["can_serve"] is False
    assert list(ready.json()["checks"]) == ["database"]
    assert health.status_code == 503


def test_the_web_process_alerts_ops_once_when_no_worker_has_led(
    clocked_web: RunningWeb, factory: sessionmaker[Session], clock: Clock
) -> None:
    fake = clocked_web.fake

    def alerts_posted(text: str) -> list[str]:
        return [m["text"] for m in fake.messages(ALERTS_CHANNEL) if text in m.get("text", "")]

    lead(factory, "worker-host:41", clock)  # it led, then crashed: the lease runs out
    clock.advance(minutes=10, seconds=31)
    fake.wait_until(lambda: alerts_posted("No worker has led"), what="the no-leader alert")
    [posted] = alerts_posted("No worker has led")
    assert "No worker has led for 10 min" in posted

    clock.advance(hours=3)  # the checks go on every 50 ms; the outage is not announced again
    lead(factory, "worker-host:99", clock)
    fake.wait_until(lambda: alerts_posted("A worker leads again"), what="the all-clear")
    assert len(alerts_posted("No worker has led")) == 1
    assert len(alerts_posted("A worker leads again")) == 1
