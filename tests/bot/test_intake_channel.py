"""Slack intake channel: new human messages become tickets once; everything else is ignored."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack import signed_event
from storage.models import OutboxKind, OutboxMessage, Ticket
from tests.bot.conftest import INTAKE_CHANNEL, REVIEW_CHANNEL, RunningWeb
from tests.bot.steps import click, review_message

LISTENER = "bot.listeners.events.intake_message"


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


def handled(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the intake listener logs once it has finished with an event."""
    return [r for r in caplog.records if r.name == LISTENER and r.msg == "intake message handled"]


def test_message_becomes_one_ticket_even_when_slack_retries(
    web: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LISTENER)
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
    assert web.slack(retry).status_code == 200  # acknowledged before it is handled
    web.fake.wait_until(lambda: len(handled(caplog)) == 2, what="the retry to be handled")
    assert [(vars(r)["new_ticket"], vars(r)["retry"]) for r in handled(caplog)] == [
        (True, None),
        (False, "1"),
    ]
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


def test_slack_escaping_is_undone_before_storing_and_the_review_escapes_once(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    # What Slack sends for: Tom & Jerry <3 &lt; @someone @channel and a pasted link
    sent = "Tom &amp; Jerry &lt;3 &amp;lt; <@U999> <!channel> <https://evil.example|click>"
    event = message_event(sent, "1700000003.000100")
    reviewing.slack(signed_event(slack_signing_secret, event, event_id="Eesc"))
    message = review_message(reviewing)
    [ticket] = tickets(factory)
    assert ticket.text == "Tom & Jerry <3 &lt; <@U999> <!channel> <https://evil.example|click>"
    quoted = message["blocks"][1]["text"]["text"]
    assert quoted == (
        "> Tom &amp; Jerry &lt;3 &amp;lt; &lt;@U999&gt; &lt;!channel&gt; "
        "&lt;https://evil.example|click&gt;"
    )


def test_the_intake_thread_hears_the_chosen_label_and_its_undo(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = reviewing
    event = message_event("My card has not arrived", "1700000004.000100")
    web.slack(signed_event(slack_signing_secret, event, event_id="Eout"))

    def in_thread() -> list[dict[str, Any]]:
        return [m for m in web.fake.messages(INTAKE_CHANNEL) if m.get("thread_ts") == event["ts"]]

    web.fake.wait_until(lambda: len(in_thread()) == 1, what="the first thread reply")
    assert "a person will pick the label" in in_thread()[0]["text"]
    message = review_message(web)
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    web.fake.wait_until(lambda: len(in_thread()) == 2, what="the outcome in the thread")
    outcome = in_thread()[1]
    assert "labelled *card_arrival* by <@UALICE>" in outcome["text"]

    def outcome_recorded() -> bool:  # the deliverer commits just after Slack answers
        with factory() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.THREAD_REPLY)
            )
            return any(r.delivered_at and r.payload.get("outcome") for r in rows)

    web.fake.wait_until(outcome_recorded, what="the outcome's ts to be kept")
    web.fake.wait_until(lambda: "chosen by" in str(web.fake.messages(REVIEW_CHANNEL)[0]))
    click(web, slack_signing_secret, web.fake.messages(REVIEW_CHANNEL)[0], ids.UNDO, user="UALICE")
    web.fake.wait_until(lambda: "undone" in in_thread()[1]["text"], what="the outcome edited")
    assert len(in_thread()) == 2
    assert "~card_arrival~ was undone by <@UALICE>" in str(in_thread()[1]["blocks"])
