"""WEB_CONCURRENCY > 1: Socket Mode runs in exactly one of the web processes, moves to another
when that one crashes, the crashed process is replaced, and SIGTERM stops them all cleanly."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sqlalchemy import Engine

from bot.sandbox.slack import APP_TOKEN, FakeSlack, slash_command_fields
from bot.sandbox.slack.waiting import wait_until
from tests.bot.conftest import web_settings
from tests.bot.web_processes import serve_processes


def open_sockets(fake: FakeSlack) -> int:
    return sum(connection.open for connection in fake.socket_connections)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def answers_help(fake: FakeSlack) -> bool:
    """`/triage help` sent over the socket is acknowledged with the help text."""
    fields = slash_command_fields(text="help", user_id="UBOB", response_url=fake.new_response_url())
    envelope_id = fake.send_envelope("slash_commands", fields, accepts_response_payload=True)
    ack = fake.wait_for_ack(envelope_id)
    return "/triage stats" in ack["payload"]["text"]


def test_socket_mode_runs_in_one_process_and_moves_when_it_crashes(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    tmp_path: Path,
) -> None:
    settings = web_settings(
        database_url, fake_slack, slack_signing_secret, SLACK_APP_TOKEN=APP_TOKEN
    )
    with serve_processes(settings, tmp_path / "run") as serve:
        serve.wait_until_each_served(2)  # both started: each has tried for Socket Mode
        fake_slack.wait_for_socket()
        assert len(fake_slack.socket_connections) == 1 and open_sockets(fake_slack) == 1
        first = serve.socket_mode_holder()
        assert first in serve.web_pids()
        assert answers_help(fake_slack)

        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: len(fake_slack.socket_connections) == 2 and open_sockets(fake_slack) == 1,
            timeout=30,
            what="Socket Mode to reconnect from another process",
        )
        second = serve.socket_mode_holder()
        assert second != first and second in serve.web_pids()
        assert answers_help(fake_slack)  # the new holder answers over its socket
        wait_until(
            lambda: len(serve.web_pids()) == 2 and first not in serve.web_pids(),
            timeout=60,
            what="the supervisor to replace the crashed process",
        )
        serve.wait_until_each_served(2)
        assert len(fake_slack.socket_connections) == 2  # the replacement did not connect too

        pids = serve.web_pids()
        os.kill(serve.process.pid, signal.SIGTERM)  # the supervisor alone, as a platform may
        assert serve.process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in pids)
    wait_until(lambda: open_sockets(fake_slack) == 0, timeout=15, what="the socket to close")
