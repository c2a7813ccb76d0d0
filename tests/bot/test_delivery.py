"""Outbox delivery on a clock the test moves: Slack's Retry-After, and callback backoff."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.sandbox.slack import FakeSlack
from bot.settings import Settings
from storage.models import OutboxKind, OutboxMessage, Ticket, TicketStatus
from storage.queries.outbox import enqueue
from tests.jobs.conftest import START, Clock

BACKOFF = 2.0


def deliverer_for(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, fake: FakeSlack
) -> Deliverer:
    """A deliverer whose client has no 429 handler: every 429 reaches the outbox."""
    client = WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])
    return Deliverer(factory, client, settings, now=clock, backoff_base=BACKOFF)


def due_at(factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with factory() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.parametrize(
    ("header", "value", "wait"),
    [
        ("Retry-After", "7", 7.0),
        ("retry-after", "7", 7.0),  # as HTTP/2 sends it
        ("RETRY-AFTER", "30", 30.0),
        ("Retry-After", format_datetime(START + timedelta(seconds=20), usegmt=True), 20.0),
        ("Retry-After", "soon", BACKOFF),  # unreadable: the usual backoff
    ],
)
def test_a_429_waits_as_long_as_slack_asks_then_delivers(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    fake_slack: FakeSlack,
    header: str,
    value: str,
    wait: float,
) -> None:
    deliverer = deliverer_for(factory, settings, clock, fake_slack)
    with factory.begin() as session:
        payload = {"channel": "CNEWS", "text": "Model v8 is active"}
        message = enqueue(OutboxKind.CHANNEL_MESSAGE, session=session, now=clock(), payload=payload)
        session.flush()
        message_id = message.id
    fake_slack.fail_next("chat.postMessage", 429, retry_after=value, retry_after_header=header)

    assert deliverer.run_once() == 0
    failed = due_at(factory, message_id)
    assert failed.due_at == START + timedelta(seconds=wait)
    assert failed.last_error == "chat.postMessage: HTTP 429 ratelimited"
    clock.moment = failed.due_at - timedelta(milliseconds=1)
    assert deliverer.run_once() == 0  # not before Slack said
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    clock.moment = failed.due_at
    assert deliverer.run_once() == 1
    assert [m["text"] for m in fake_slack.messages("CNEWS")] == ["Model v8 is active"]
    assert due_at(factory, message_id).delivered_at == failed.due_at


def test_a_failing_callback_is_retried_with_growing_delays_and_delivered_once(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> None:
    callback = fake_slack.new_callback_url()  # a plain JSON endpoint on 127.0.0.1
    fake_slack.fail_next("callback", 500, count=2)
    with factory.begin() as session:
        ticket = Ticket(
            text="Where is my card?",
            source="api",
            external_id="zd-9",
            created_at=clock(),
            status=TicketStatus.AUTO,
            decision="auto",
            final_label="card_arrival",
            predicted_label="card_arrival",
            confidence=0.97,
            decided_at=clock(),
            callback_url=callback,
        )
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
        message = enqueue(OutboxKind.CALLBACK, session=session, now=clock(), ticket_id=ticket_id)
        session.flush()
        message_id = message.id
    allowed = settings.with_overrides(callback_allow=("127.0.0.1",))  # the fake's address
    deliverer = deliverer_for(factory, allowed, clock, fake_slack)

    waits = []
    for _ in range(2):
        assert deliverer.run_once() == 0
        failed = due_at(factory, message_id)
        assert failed.last_error == "callback: HTTP 500"
        waits.append((failed.due_at - clock()).total_seconds())
        clock.moment = failed.due_at - timedelta(milliseconds=1)
        assert deliverer.run_once() == 0  # waits its turn
        clock.moment = failed.due_at
    assert waits == [BACKOFF, 2 * BACKOFF]
    assert deliverer.run_once() == 1
    clock.advance(hours=1)
    assert deliverer.run_once() == 0
    assert len(fake_slack.calls_to("callback")) == 3
    [body] = fake_slack.wait_for_callback()
    assert (body["id"], body["external_id"], body["label"]) == (ticket_id, "zd-9", "card_arrival")


def test_one_pass_sends_each_row_and_a_failed_send_leaves_the_others_delivered(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> None:
    """A pass draws its rows together and writes their results in one transaction: a row
    Slack refuses is retried later on its own, and the rows beside it are delivered, once."""
    long_text = "My card has not arrived. " * 80  # past the preview: a thread reply follows
    with factory.begin() as session:
        ticket = Ticket(
            text=long_text,
            source="api",
            created_at=clock(),
            status=TicketStatus.PENDING,
            decision="review",
            predicted_label="card_arrival",
            confidence=0.41,
        )
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
        news = [
            enqueue(
                OutboxKind.CHANNEL_MESSAGE,
                session=session,
                now=clock(),
                payload={"channel": "CNEWS", "text": f"note {n}"},
            )
            for n in range(3)
        ]
        post = enqueue(OutboxKind.POST_TICKET, session=session, now=clock(), ticket_id=ticket_id)
        session.flush()
        ids = [m.id for m in news]
        post_id = post.id
    fake_slack.fail_next("chat.postMessage", 500)  # the first send of the pass
    deliverer = deliverer_for(
        factory, settings.with_overrides(review_channel="CREVIEW"), clock, fake_slack
    )

    claimed, sent = deliverer.run_pass()

    assert (claimed, sent) == (4, 3)
    rows = {i: due_at(factory, i) for i in [*ids, post_id]}
    assert rows[ids[0]].delivered_at is None and rows[ids[0]].due_at > clock()
    assert rows[ids[0]].last_error == "chat.postMessage: HTTP 500 fatal_error"
    assert all(rows[i].delivered_at == clock() and rows[i].last_error is None for i in ids[1:])
    assert rows[post_id].delivered_at == clock()
    [card] = fake_slack.messages("CREVIEW")
    with factory() as session:
        stored = session.get(Ticket, ticket_id)
        assert stored is not None and (stored.slack_channel, stored.slack_ts) == (
            "CREVIEW",
            card["ts"],
        )
        replies = session.query(OutboxMessage).filter_by(kind=OutboxKind.THREAD_REPLY).all()
        assert [(r.ticket_id, r.delivered_at) for r in replies] == [(ticket_id, None)]
    clock.advance(hours=1)
    assert deliverer.run_once() == 2  # the refused note, then the thread reply
    assert sorted(m["text"] for m in fake_slack.messages("CNEWS")) == ["note 0", "note 1", "note 2"]
