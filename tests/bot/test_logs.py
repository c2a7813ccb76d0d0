"""Ticket text and secrets never reach the logs, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from bot.logs import BODY_LOGGERS, QUIET_LOGGERS, JsonFormatter, configure_logging
from tests.bot.conftest import REVIEW_CHANNEL, RunningWeb
from tests.bot.steps import post_ticket, review_message

CARD_NUMBER = "4111 1111 1111 1111"
TOKEN = "xoxb-1111-2222-ticketsecret"
TICKET = f"My card {CARD_NUMBER} was declined. The app showed {TOKEN} and then crashed."


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The service's own logging set-up at DEBUG, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in (*BODY_LOGGERS, *QUIET_LOGGERS)}
    buffer = io.StringIO()
    configure_logging("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def test_a_ticket_through_the_api_and_slack_leaves_no_trace_in_the_logs(
    json_logs: io.StringIO, reviewing: RunningWeb
) -> None:
    created = post_ticket(reviewing, TICKET)
    message = review_message(reviewing)
    assert CARD_NUMBER in str(message["blocks"])  # the text really went through slack_sdk
    assert reviewing.fake.messages(REVIEW_CHANNEL)[0]["ts"] == message["ts"]
    assert reviewing.api("GET", f"/api/tickets/{created['id']}").status_code == 200

    output = json_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert any(line["level"] == "debug" for line in lines)  # DEBUG was really on
    assert CARD_NUMBER not in output and "4111" not in output
    assert "ticketsecret" not in output and "xoxb-test" not in output  # the bot token either


def test_exception_text_is_masked_and_secrets_are_scrubbed_inside_valid_json() -> None:
    try:
        raise ValueError(f"could not store {TICKET!r} (Authorization: Bearer api-secret-1)")
    except ValueError:
        record = logging.getLogger("test").makeRecord(
            "test",
            logging.ERROR,
            __file__,
            1,
            "store failed for %s",
            ("xapp-1-A1-secret",),
            exc_info=sys.exc_info(),
        )
    record.headers = {"Authorization": "Bearer api-secret-2", "retries": 2}
    line = JsonFormatter().format(record)
    entry = json.loads(line)  # a redaction never breaks the line
    assert entry["event"] == "store failed for [redacted]"
    assert entry["headers"] == {"Authorization": "[redacted]", "retries": 2}
    assert "ValueError" in entry["error"] and " NUMBER " in entry["error"]
    for secret in ("4111", "ticketsecret", "api-secret", "xapp-1"):
        assert secret not in line, secret


ISO_UTC_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone set well away from UTC, as on a developer's laptop."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_log_lines_are_json_with_utc_millisecond_timestamps_and_the_request_id(
    far_from_utc: None, json_logs: io.StringIO, web: RunningWeb, engine: Engine
) -> None:
    before = datetime.now(UTC)
    given = web.api("GET", "/api/tickets/1", headers={"X-Request-Id": "req-7f3a.1"})
    assert given.status_code == 404
    assert given.headers["x-request-id"] == "req-7f3a.1"
    problem = given.json()
    assert (problem["error"], problem["request_id"]) == ("There is no ticket 1.", "req-7f3a.1")
    with engine.begin() as connection:  # a failure the server logs
        connection.execute(text("ALTER TABLE tickets RENAME TO tickets_gone"))
    made = web.api("GET", "/api/tickets/1", headers={"X-Request-Id": "bad id\twith spaces"})
    assert made.status_code == 500
    generated = made.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert made.json()["request_id"] == generated
    after = datetime.now(UTC)

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    server = [line for line in lines if not line["logger"].startswith(("httpx", "httpcore"))]
    for line in lines:
        assert ISO_UTC_MILLIS.match(line["ts"]), line["ts"]
        moment = datetime.fromisoformat(line["ts"])
        assert moment.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1), line
    by_request = {
        rid: [line["event"] for line in server if line.get("request_id") == rid]
        for rid in ("req-7f3a.1", generated)
    }
    assert any("GET /api/tickets/1" in event for event in by_request["req-7f3a.1"])
    assert "request failed" in by_request[generated]
    assert not [line for line in server if "request_id" not in line and "/api/" in line["event"]]
