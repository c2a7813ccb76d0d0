"""Socket Mode end to end: with SLACK_APP_TOKEN set the web process connects out to the fake
Slack's WebSocket and answers the commands and clicks it receives there (no /slack/events)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.listeners.commands.triage import WORKING
from bot.sandbox.slack import (
    APP_TOKEN,
    FakeSlack,
    assert_valid_message,
    block_action_payload,
    slash_command_fields,
)
from bot.services.policy import THRESHOLD
from bot.settings import Settings
from classifier import TrainedModel
from tests.bot.conftest import (
    REVIEW_CHANNEL,
    RunningWeb,
    install_model,
    serving,
    set_policy,
    web_settings,
)
from tests.bot.steps import click_fields, element, post_ticket, review_message

MEMBER = "UBOB"


def socket_settings(
    database_url: str, fake: FakeSlack, secret: str, app_token: str = APP_TOKEN
) -> Settings:
    """A deployment that receives Slack's requests over Socket Mode."""
    return web_settings(database_url, fake, secret, SLACK_APP_TOKEN=app_token)


@pytest.fixture
def socket_web(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> Iterator[RunningWeb]:
    """The web process with an app-level token, connected to the fake's Socket Mode."""
    settings = socket_settings(database_url, fake_slack, slack_signing_secret)
    with serving(settings, engine, fake_slack) as running:
        fake_slack.wait_for_socket()
        yield running


def open_sockets(fake: FakeSlack) -> int:
    return sum(connection.open for connection in fake.socket_connections)


def triage(web: RunningWeb, text: str, user: str) -> dict[str, Any]:
    """Send `/triage text` over the socket; return the answer (ack payload or response_url)."""
    url = web.fake.new_response_url()
    fields = slash_command_fields(text=text, user_id=user, response_url=url)
    envelope_id = web.fake.send_envelope("slash_commands", fields, accepts_response_payload=True)
    ack = web.fake.wait_for_ack(envelope_id)
    assert set(ack) == {"envelope_id", "payload"}, ack
    answer = ack["payload"]
    assert answer["response_type"] == "ephemeral"
    if answer.get("text") == WORKING:
        [answer] = web.fake.wait_for_response(url=url)
        assert answer["response_type"] == "ephemeral"
    assert_valid_message(answer)
    return answer


def test_connects_with_the_app_token_and_closes_on_shutdown(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> None:
    settings = socket_settings(database_url, fake_slack, slack_signing_secret)
    with serving(settings, engine, fake_slack):
        [connection] = fake_slack.wait_for_socket()
        [opened] = fake_slack.calls_to("apps.connections.open")
        assert opened.ok and opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
        assert opened.response["url"].endswith(f"?ticket={connection.ticket}")
    fake_slack.wait_until(lambda: open_sockets(fake_slack) == 0, what="the socket to close")
    assert len(fake_slack.socket_connections) == 1  # closed by the app, not reconnected


def test_shutdown_while_slack_refuses_the_token_closes_the_client(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> None:
    settings = socket_settings(database_url, fake_slack, slack_signing_secret, "xapp-revoked")
    with serving(settings, engine, fake_slack):
        [refused] = fake_slack.wait_for("apps.connections.open")
        assert refused.response == {"ok": False, "error": "invalid_auth"}
    # the client retries connecting until shut down; its aiohttp session must be closed then
    gc.collect()
    unclosed = [
        o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed
    ]
    assert unclosed == []
    assert fake_slack.socket_connections == []


def test_slash_commands_are_answered_in_the_ack_or_through_response_url(
    socket_web: RunningWeb,
) -> None:
    helped = triage(socket_web, "help", user=MEMBER)["text"]
    assert "/triage stats" in helped and "/triage queue" in helped
    assert "/triage threshold" not in helped  # the member is not an admin
    queued = triage(socket_web, "queue", user=MEMBER)  # slow: "Working on it…" first
    assert queued["text"] == "Nothing is waiting for review. 🎉"
    assert len(socket_web.fake.responses) == 1


def test_a_click_on_a_review_message_labels_the_ticket(
    socket_web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    web = socket_web
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)  # nothing is confident enough: everything to review
    created = post_ticket(web)
    message = review_message(web)
    action_id = f"{ids.SUGGEST}_1"
    chosen = element(message, action_id)["value"]

    payload = block_action_payload(**click_fields(web, message, action_id, user="UALICE"))
    envelope_id = web.fake.send_envelope("interactive", payload)
    assert web.fake.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}

    [update] = web.fake.wait_for("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (REVIEW_CHANNEL, message["ts"])
    [decided] = web.fake.messages(REVIEW_CHANNEL)
    assert f"*{chosen}* — chosen by <@UALICE>" in decided["blocks"][0]["text"]["text"]
    state = web.api("GET", f"/api/tickets/{created['id']}").json()
    assert (state["status"], state["label"], state["decided_by"]) == ("labelled", chosen, "UALICE")
    assert web.fake.responses == []  # no error reply to the clicker
