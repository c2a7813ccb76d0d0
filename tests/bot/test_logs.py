"""Ticket text and secrets never reach the logs, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

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
