"""`triage worker --check`: the container health check of the worker beside it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.clock import utc_now
from bot.sandbox.slack.waiting import wait_until
from storage.queries.heartbeats import beat
from storage.queries.leases import SCHEDULER_LEASE, acquire_or_renew
from tests.jobs.test_worker import START_WORKER, workers

HOST = socket.gethostname()
TTL = timedelta(seconds=30)
RunCheck = Callable[[], tuple[int, str]]


@pytest.fixture
def check(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> RunCheck:
    """Run `triage worker --check` in-process; return (exit status, the line it printed)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRIAGE_WORKER_LEASE_SECONDS", "30")

    def run() -> tuple[int, str]:
        status = main(["worker", "--check"])
        out, err = capsys.readouterr()
        return status, (out + err).strip()

    return run


def record(
    factory: sessionmaker[Session], holder: str, *, ago: float, leading: bool, host: str = HOST
) -> None:
    now = utc_now() - timedelta(seconds=ago)
    with factory.begin() as session:
        if leading:
            assert acquire_or_renew(SCHEDULER_LEASE, holder, session=session, now=now, ttl=TTL)
        beat(holder, host=host, leading=leading, session=session, now=now)


def test_no_worker_on_this_host_is_unhealthy(check: RunCheck, engine: Engine) -> None:
    assert check() == (1, f"triage worker --check: no worker has run on {HOST}")


def test_a_fresh_leader_is_healthy(check: RunCheck, factory: sessionmaker[Session]) -> None:
    record(factory, f"{HOST}:1", ago=5, leading=True)
    status, line = check()
    assert status == 0 and f"{HOST}:1 leads" in line


def test_a_stale_worker_is_unhealthy(check: RunCheck, factory: sessionmaker[Session]) -> None:
    record(factory, f"{HOST}:1", ago=45, leading=True)  # hung: no beat for 1.5 leases
    status, line = check()
    assert status == 1 and "stale" in line
    # The check runs in a new process, which may take a second or more to start.
    found = re.search(r"last beat (\d+) s ago", line)
    assert found and 45 <= int(found.group(1)) <= 60


def test_a_standby_is_healthy_while_another_worker_leads(
    check: RunCheck, factory: sessionmaker[Session]
) -> None:
    record(factory, "elsewhere:9", ago=3, leading=True, host="elsewhere")
    record(factory, f"{HOST}:2", ago=4, leading=False)
    status, line = check()
    assert status == 0 and "stands by; elsewhere:9 leads" in line


def test_a_standby_that_did_not_take_a_long_free_lease_could_not_lead(
    check: RunCheck, factory: sessionmaker[Session]
) -> None:
    record(factory, "elsewhere:9", ago=120, leading=True, host="elsewhere")  # died long ago
    record(factory, f"{HOST}:2", ago=4, leading=False)
    status, line = check()
    assert status == 1 and "could not lead" in line


def test_an_unmigrated_database_is_unhealthy_in_one_line(check: RunCheck) -> None:
    status, line = check()
    assert status == 1 and "triage db upgrade" in line and "\n" not in line


def test_the_check_follows_a_real_worker_from_leading_to_killed(
    database_url: str, engine: Engine
) -> None:
    env = {"DATABASE_URL": database_url, "TRIAGE_WORKER_LEASE_SECONDS": "2"}

    def check_exit() -> int:
        done = subprocess.run(
            [sys.executable, "-c", START_WORKER, "worker", "--check"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode

    with workers(database_url, 1) as [worker]:
        worker.wait_for_event("scheduler started")
        assert check_exit() == 0
        worker.stop(signal.SIGKILL)  # no clean stop: the heartbeat just ages
        wait_until(lambda: check_exit() == 1, timeout=30, what="the check to notice the kill")
