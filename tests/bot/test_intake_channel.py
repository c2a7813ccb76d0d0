"""Slack intake channel: new human messages become tickets once; everything else is ignored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Ticket
from tests.bot.conftest import INTAKE_CHANNEL, RunningWeb
from tests.slack_fake import signed_event


def message_event(text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": INTAKE_CHANNEL,
        "user": "UCUSTOMER",
        "text": text,
        "ts": ts,
        "channel_type": "channel",
        **extra,
    }


def tickets(factory: sessionmaker[Session]) -> list[Ticket]:
    with factory() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def test_message_becomes_one_ticket_even_when_slack_retries(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    event = message_event("My card payment was declined twice", "1700000001.000200")
    first = signed_event(slack_signing_secret, event, event_id="Ev1")
    assert web.slack(first).status_code == 200
    reply = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == event["ts"]
    )[0]
    assert reply.params["channel"] == INTAKE_CHANNEL
    assert "a person will pick the label" in reply.params["text"]
    retry = signed_event(
        slack_signing_secret, event, event_id="Ev1", retry_num=1, retry_reason="http_timeout"
    )
    assert web.slack(retry).status_code == 200
    web.fake.wait_for("chat.postMessage", count=2)  # the review post and the thread reply
    [ticket] = tickets(factory)
    assert ticket.source == f"slack:{INTAKE_CHANNEL}" and ticket.external_id == event["ts"]
    assert ticket.extra == {
        "slack_user": "UCUSTOMER",
        "slack_channel": INTAKE_CHANNEL,
        "slack_ts": event["ts"],
    }


def test_bot_messages_edits_thread_replies_and_other_channels_are_ignored(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    ignored = [
        message_event("from a bot", "1.1", bot_id="B1", subtype="bot_message"),
        message_event("edited", "1.2", subtype="message_changed"),
        message_event("a reply", "1.4", thread_ts="1.3"),
        {**message_event("elsewhere", "1.5"), "channel": "COTHER"},
    ]
    for number, event in enumerate(ignored):
        assert (
            web.slack(signed_event(slack_signing_secret, event, event_id=f"E{number}")).status_code
            == 200
        )
    marker = message_event("Please close my account", "1.6")
    web.slack(signed_event(slack_signing_secret, marker, event_id="Emarker"))
    web.fake.wait_for(lambda c: c.params.get("thread_ts") == "1.6")
    assert [t.text for t in tickets(factory)] == ["Please close my account"]


def test_a_message_that_cannot_be_a_ticket_gets_a_private_reason(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    event = message_event("z" * 20_001, "1.7")
    web.slack(signed_event(slack_signing_secret, event, event_id="Elong"))
    [ephemeral] = web.fake.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == "UCUSTOMER"
    assert "20,000" in ephemeral.params["text"]
    assert tickets(factory) == []
