"""The web process's watch on the worker: one alert per outage, and one when a worker is back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from jobs.leader_watch import LEADER_BACK, NO_LEADER, check_worker_leader
from storage.models import Alert
from storage.queries.heartbeats import beat, stopped
from storage.queries.leases import SCHEDULER_LEASE, acquire_or_renew, release
from tests.jobs.conftest import START, Clock

TTL = timedelta(seconds=30)


def lead(factory: sessionmaker[Session], holder: str, clock: Clock) -> None:
    """`holder` renews the lease and beats, as the worker does every third of the lease."""
    with factory.begin() as session:
        assert acquire_or_renew(SCHEDULER_LEASE, holder, session=session, now=clock(), ttl=TTL)
        beat(holder, host="host-a", leading=True, session=session, now=clock())


def stop(factory: sessionmaker[Session], holder: str, clock: Clock) -> None:
    with factory.begin() as session:
        release(SCHEDULER_LEASE, holder, session=session)
        stopped(holder, session=session, now=clock())


def check(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> str | None:
    with factory.begin() as session:
        return check_worker_leader(
            session=session, settings=settings, now=clock(), watching_since=START
        )


def alert_keys(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Alert.key).order_by(Alert.id)))


def test_no_alert_while_a_worker_leads_nor_before_the_setting_minutes(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    assert job_settings.no_leader_alert_minutes == 10
    for _ in range(40):  # ten minutes of renewals every 15 s
        lead(factory, "w1:1", clock)
        assert check(factory, job_settings, clock) is None
        clock.advance(seconds=15)
    stop(factory, "w1:1", clock)
    clock.advance(minutes=9, seconds=59)
    assert check(factory, job_settings, clock) is None
    assert alert_keys(factory) == []


def test_one_alert_per_outage_then_one_when_a_worker_leads_again(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    lead(factory, "w1:1", clock)
    clock.advance(seconds=20)  # it crashed: no release, the lease just runs out
    clock.advance(minutes=10)
    assert check(factory, job_settings, clock) == NO_LEADER
    for _ in range(30):  # the outage goes on for hours: nothing more is said
        clock.advance(minutes=10)
        assert check(factory, job_settings, clock) is None
    assert alert_keys(factory) == [NO_LEADER]
    with factory() as session:
        [alert] = session.scalars(select(Alert))
    assert "No worker has led for 10 min" in alert.content["headline"]

    lead(factory, "w2:7", clock)
    assert check(factory, job_settings, clock) == LEADER_BACK
    assert check(factory, job_settings, clock) is None
    assert alert_keys(factory) == [NO_LEADER, LEADER_BACK]

    # A new outage, after the cooldown: announced again, and the return too.
    stop(factory, "w2:7", clock)
    clock.advance(minutes=job_settings.alert_cooldown_minutes)
    assert check(factory, job_settings, clock) == NO_LEADER
    lead(factory, "w2:8", clock)
    assert check(factory, job_settings, clock) == LEADER_BACK
    assert alert_keys(factory) == [NO_LEADER, LEADER_BACK, NO_LEADER, LEADER_BACK]


def test_a_flapping_worker_is_announced_at_most_once_per_cooldown(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    for _ in range(3):  # leads a moment, then gone for 15 minutes, three times in 45 min
        lead(factory, "w1:1", clock)
        stop(factory, "w1:1", clock)
        clock.advance(minutes=15)
        check(factory, job_settings, clock)
    assert alert_keys(factory) == [NO_LEADER]
    lead(factory, "w1:1", clock)
    stop(factory, "w1:1", clock)
    clock.advance(minutes=job_settings.alert_cooldown_minutes)  # still gone, cooldown over
    assert check(factory, job_settings, clock) == NO_LEADER


def test_a_worker_that_never_led_counts_from_the_web_process_start(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    clock.advance(minutes=9)
    assert check(factory, job_settings, clock) is None
    clock.advance(minutes=1)
    assert check(factory, job_settings, clock) == NO_LEADER
    with factory() as session:
        [alert] = session.scalars(select(Alert))
    assert "since this web process started" in " ".join(alert.content["details"])
