"""Erasure through the API and the CLI: the text goes everywhere it was stored or posted
(the review message, its full-text reply, the route post), labels and answers stay, and no
model learns from the ticket again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.blocks.text import PREVIEW_CHARS
from bot.clock import utc_now
from bot.sandbox.slack.waiting import wait_until
from classifier import TrainedModel
from storage.models import AuditLogEntry, Label, OutboxMessage, Review, Ticket
from storage.queries.tickets import labelled_examples
from tests.bot.conftest import REVIEW_CHANNEL, Ran, RunningWeb
from tests.bot.steps import CARD_TEXT, click, post_ticket, review_message

ROUTE_CHANNEL = "CROUTE"
SECRET_WORDS = "Margaret Hamilton, 12 Elm Street"
LONG_TEXT = f"{CARD_TEXT}. I am {SECRET_WORDS}. " + "It still has not come. " * 80


def route_everything(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        session.execute(update(Label).values(route_channel=ROUTE_CHANNEL))


def everything_slack_shows(web: RunningWeb) -> str:
    """Every message the channels hold now, as one string."""
    messages = web.fake.messages(REVIEW_CHANNEL) + web.fake.messages(ROUTE_CHANNEL)
    return json.dumps(messages, ensure_ascii=False)


def labelled_and_routed(
    web: RunningWeb, factory: sessionmaker[Session], secret: str
) -> dict[str, Any]:
    """A long ticket (so its full text went to the thread) labelled by Alice and routed."""
    assert len(LONG_TEXT) > PREVIEW_CHARS
    route_everything(factory)
    ticket = post_ticket(
        web, LONG_TEXT, subject=f"From {SECRET_WORDS}", metadata={"email": "mh@example.com"}
    )
    message = review_message(web)
    web.fake.wait_for(lambda c: c.params.get("thread_ts") == message["ts"], count=1)
    status, _ = click(web, secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    assert status == 200
    web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == ROUTE_CHANNEL
    )
    wait_until(lambda: delivered(factory), timeout=15, what="every delivery to be recorded")
    assert SECRET_WORDS in everything_slack_shows(web)
    return ticket


def delivered(factory: sessionmaker[Session]) -> bool:
    """Whether every Slack post due now is sent and recorded as sent (the refresh that takes
    the Undo button away is due later)."""
    with factory() as session:
        due = OutboxMessage.delivered_at.is_(None), OutboxMessage.due_at <= utc_now()
        return not session.scalar(select(func.count()).where(*due))


def test_delete_erases_the_text_everywhere_and_keeps_the_label(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    web = reviewing
    ticket = labelled_and_routed(web, factory, slack_signing_secret)
    with factory() as session:
        assert [e.ticket_id for e in labelled_examples(session=session)] == [ticket["id"]]

    response = web.api("DELETE", f"/api/tickets/{ticket['id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erased"] is True and body["slack_messages_edited"] == 3

    # Slack: the review message, its full-text reply and the route post, edited.
    web.fake.wait_until(
        lambda: SECRET_WORDS not in everything_slack_shows(web),
        what="every Slack message to lose the ticket's text",
    )
    shown = everything_slack_shows(web)
    assert shown.count("The text of this ticket was removed") == 3
    assert "card_arrival" in shown  # the route post still says where the ticket went

    # The database: text, subject and metadata gone; the label and Alice's answer stay.
    with factory() as session:
        row = session.get(Ticket, ticket["id"])
        assert row is not None and row.erased_at is not None
        assert (row.text, row.subject, row.extra) == ("", None, None)
        assert row.final_label == "card_arrival" and row.decided_by == "UALICE"
        assert [r.label for r in session.scalars(select(Review))] == ["card_arrival"]
        assert labelled_examples(session=session) == []  # no model learns from it again
        [entry] = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "erase ticket")
        )
        assert entry.actor == "api" and entry.after == {
            "ticket": ticket["id"],
            "source": "api",
            "external_id": None,
        }
    shown_by_api = web.api("GET", f"/api/tickets/{ticket['id']}").json()
    assert shown_by_api["label"] == "card_arrival"

    # Erasing again changes nothing and edits nothing.
    again = web.api("DELETE", f"/api/tickets/{ticket['id']}")
    assert again.status_code == 200 and again.json()["slack_messages_edited"] == 0


def test_a_route_post_in_flight_during_the_erasure_is_edited_once_it_lands(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = reviewing
    route_everything(factory)
    ticket = post_ticket(web, f"{CARD_TEXT} ({SECRET_WORDS})")
    message = review_message(web)
    web.fake.hold("chat.postMessage")  # Slack is slow to answer the route post
    try:
        click(
            web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival"
        )
        web.fake.wait_until(lambda: "chat.postMessage" in web.fake.held, what="the route post")
        erased = web.api("DELETE", f"/api/tickets/{ticket['id']}").json()
        assert erased["slack_messages_edited"] == 1  # the review message; the route post is unseen
    finally:
        web.fake.release()
    web.fake.wait_until(
        lambda: (
            web.fake.messages(ROUTE_CHANNEL) and SECRET_WORDS not in everything_slack_shows(web)
        ),
        what="the route post, once it landed, to lose the text",
    )


def test_delete_refuses_unknown_tickets_and_missing_tokens(web: RunningWeb) -> None:
    missing = web.api("DELETE", "/api/tickets/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["error"]
    assert web.api("DELETE", "/api/tickets/not-a-number").status_code == 404
    anonymous = web.client.delete(web.url + "/api/tickets/1")
    assert anonymous.status_code == 401


def test_forget_finds_the_ticket_by_its_helpdesk_id(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    cli: Callable[..., Ran],
) -> None:
    web = reviewing
    ticket = post_ticket(web, f"{CARD_TEXT} ({SECRET_WORDS})", source="zendesk", external_id="Z-9")
    review_message(web)

    ran = cli("forget", "--source", "zendesk", "--external-id", "Z-9", "--as", "dpo-dana")
    assert ran.status == 0, ran.err
    assert ran.out.strip() == (
        f"Erased ticket #{ticket['id']}'s text, subject and metadata; "
        "1 Slack message will be edited to say so."
    )
    web.fake.wait_until(
        lambda: SECRET_WORDS not in everything_slack_shows(web), what="the review message edit"
    )
    with factory() as session:
        [entry] = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "erase ticket")
        )
        assert entry.actor == "cli:dpo-dana"

    unknown = cli("forget", "--source", "zendesk", "--external-id", "nope")
    assert unknown.status == 2 and "no ticket from zendesk with external id nope" in unknown.err
    nothing = cli("forget")
    assert nothing.status == 2 and "by its id, or by its source and external id" in nothing.err
