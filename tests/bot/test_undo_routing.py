"""Undo takes back routing: unsent deliveries are cancelled, sent ones corrected, on a clock
the test moves and against the fake Slack (the web process version is in test_review_loop)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.sandbox.slack import FakeSlack
from bot.services.answers import AnswerOutcome, AnswerStatus, record_answer, undo_answer
from bot.services.routing import queue_routing
from bot.settings import Settings
from storage.models import OutboxKind, OutboxMessage, Ticket, TicketStatus
from storage.queries.labels import ensure_labels, label_by_name
from tests.jobs.conftest import Clock

ROUTE_CHANNEL = "CROUTE"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deliverer(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> Deliverer:
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url, retry_handlers=[])
    allowed = settings.with_overrides(callback_allow=("127.0.0.1",))  # the fake's receiver
    return Deliverer(factory, client, allowed, now=clock, backoff_base=2.0)


def routed_ticket(factory: sessionmaker[Session], clock: Clock, callback: str) -> int:
    """A pending review whose labels all route to ROUTE_CHANNEL and whose caller waits."""
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=clock())
        for name in ("card_arrival", "exchange_rate"):
            label = label_by_name(name, session=session)
            assert label is not None
            label.route_channel = ROUTE_CHANNEL
        ticket = Ticket(
            text="Where is my card?",
            source="api",
            created_at=clock(),
            status=TicketStatus.PENDING,
            decision="review",
            callback_url=callback,
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def answer(
    factory: sessionmaker[Session], call: Callable[..., AnswerOutcome], *args: object, **kw: object
) -> AnswerOutcome:
    with factory.begin() as session:
        return call(*args, session=session, **kw)


def waiting(factory: sessionmaker[Session], ticket_id: int) -> list[str]:
    """Kinds of the routing deliveries not yet made."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage.kind).where(
                OutboxMessage.ticket_id == ticket_id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.kind.in_([OutboxKind.ROUTE, OutboxKind.CALLBACK]),
            )
        )
        return sorted(rows)


def corrections(factory: sessionmaker[Session], ticket_id: int) -> list[tuple[str, str | None]]:
    """(kind, last error) of each correction an undo queued, undelivered ones only."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.ticket_id == ticket_id, OutboxMessage.delivered_at.is_(None))
            .order_by(OutboxMessage.id)
        )
        return [(r.kind, r.last_error) for r in rows if "retracts" in r.payload]


def test_undo_before_delivery_cancels_it_and_the_next_choice_routes_once(
    factory: sessionmaker[Session], clock: Clock, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    callback = fake_slack.new_callback_url()
    ticket_id = routed_ticket(factory, clock, callback)
    answer(
        factory, record_answer, ticket_id, user="U1", label="card_arrival", quorum=1, now=clock()
    )
    assert waiting(factory, ticket_id) == ["callback", "route"]
    undone = answer(factory, undo_answer, ticket_id, user="U1", now=clock())
    assert undone.status == AnswerStatus.UNDONE
    assert waiting(factory, ticket_id) == []  # cancelled: Slack and the caller never hear of it

    clock.advance(seconds=30)
    answer(
        factory, record_answer, ticket_id, user="U2", label="exchange_rate", quorum=1, now=clock()
    )
    deliverer.run_once()
    [post] = fake_slack.messages(ROUTE_CHANNEL)
    assert "*exchange_rate* by <@U2>" in str(post["blocks"])
    [body] = fake_slack.wait_for_callback(url=callback)
    assert (body["label"], body["decided_by"], body["status"]) == (
        "exchange_rate",
        "U2",
        "labelled",
    )
    clock.advance(minutes=10)
    deliverer.run_once()
    assert len(fake_slack.messages(ROUTE_CHANNEL)) == 1 and len(fake_slack.callbacks) == 1


def test_undo_while_the_route_post_is_being_sent_edits_it_once_it_is_posted(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    fake_slack: FakeSlack,
    deliverer: Deliverer,
) -> None:
    callback = fake_slack.new_callback_url()
    ticket_id = routed_ticket(factory, clock, callback)
    answer(
        factory, record_answer, ticket_id, user="U1", label="card_arrival", quorum=1, now=clock()
    )
    fake_slack.hold("chat.postMessage")  # Slack is slow to answer the route post
    other = Deliverer(
        factory,
        WebClient(token="xoxb-test", base_url=fake_slack.base_url, retry_handlers=[]),
        settings,
        now=clock,
    )
    sending = threading.Thread(target=other.run_once)
    sending.start()
    try:
        fake_slack.wait_until(lambda: fake_slack.held, what="the route post to reach Slack")
        answer(factory, undo_answer, ticket_id, user="U1", now=clock())
        deliverer.run_once()
        # Both were claimed with the post: they are corrected, after their sends finish.
        wait = "waiting for the delivery it corrects to finish"
        assert corrections(factory, ticket_id) == [("route", wait), ("callback", wait)]
    finally:
        fake_slack.release()
        sending.join(timeout=15)
    [posted] = fake_slack.messages(ROUTE_CHANNEL)
    assert "*card_arrival* by <@U1>" in str(posted["blocks"])  # sent before the undo

    clock.advance(seconds=2)
    deliverer.run_once()
    assert corrections(factory, ticket_id) == []
    [edited] = fake_slack.messages(ROUTE_CHANNEL)
    assert edited["ts"] == posted["ts"]
    shown = str(edited["blocks"])
    assert "~card_arrival~ was undone by <@U1>" in shown and "waiting for a label again" in shown
    # The callback was claimed with the post, and found the decision undone: the caller
    # never heard of card_arrival, so it is not told anything.
    assert fake_slack.callbacks == []


def audit_ticket(factory: sessionmaker[Session], clock: Clock, callback: str) -> int:
    """A confident ticket sampled for a blind audit, routed under the model's label."""
    ticket_id = routed_ticket(factory, clock, callback)
    with factory.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.status, ticket.decision, ticket.decided_at = TicketStatus.AUTO, "audit", clock()
        ticket.predicted_label = ticket.final_label = "card_arrival"
        queue_routing(ticket, session=session, now=clock())
    return ticket_id


def test_undoing_an_audit_correction_restores_the_automatic_label_downstream(
    factory: sessionmaker[Session], clock: Clock, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    callback = fake_slack.new_callback_url()
    ticket_id = audit_ticket(factory, clock, callback)
    deliverer.run_once()
    answer(
        factory, record_answer, ticket_id, user="U1", label="exchange_rate", quorum=1, now=clock()
    )
    deliverer.run_once()
    auto, correction = fake_slack.messages(ROUTE_CHANNEL)
    assert "*exchange_rate* by <@U1>" in str(correction["blocks"])

    answer(factory, undo_answer, ticket_id, user="U1", now=clock())
    deliverer.run_once()
    assert fake_slack.messages(ROUTE_CHANNEL)[0] == auto  # the model's own post is left alone
    shown = str(fake_slack.messages(ROUTE_CHANNEL)[1]["blocks"])
    assert "~exchange_rate~ was undone by <@U1>; the automatic label *card_arrival* stands" in shown
    told = [(b["status"], b["label"]) for b in fake_slack.wait_for_callback(count=3, url=callback)]
    assert told == [("auto", "card_arrival"), ("auto", "exchange_rate"), ("auto", "card_arrival")]


def test_undoing_an_audit_correction_before_any_delivery_keeps_the_automatic_routing(
    factory: sessionmaker[Session], clock: Clock, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    callback = fake_slack.new_callback_url()
    ticket_id = audit_ticket(factory, clock, callback)
    answer(
        factory, record_answer, ticket_id, user="U1", label="exchange_rate", quorum=1, now=clock()
    )
    answer(factory, undo_answer, ticket_id, user="U1", now=clock())
    assert waiting(factory, ticket_id) == ["callback", "route"]  # the model's, not the answer's
    deliverer.run_once()
    [post] = fake_slack.messages(ROUTE_CHANNEL)
    assert "*card_arrival* automatically" in str(post["blocks"])
    [body] = fake_slack.wait_for_callback(url=callback)
    assert (body["status"], body["label"], body["decided_by"]) == ("auto", "card_arrival", None)
