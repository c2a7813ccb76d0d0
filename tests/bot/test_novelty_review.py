"""Tickets unlike anything learned, end to end: the review message says so, and "None of
these…" opens a modal whose signed submission records that no label fits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack import assert_valid_message, assert_valid_view, signed_view_submission
from bot.services.policy import THRESHOLD
from classifier import TrainedModel
from storage.models import Review, Ticket, TicketStatus
from storage.queries.tickets import labelled_examples
from storage.queries.topics import no_label_texts
from tests.bot.conftest import REVIEW_CHANNEL, RunningWeb, install_model, set_policy
from tests.bot.steps import click, element, post_ticket, review_message

OFF_TOPIC = "Will it rain in Manchester tomorrow afternoon?"


def action_ids(message: dict[str, Any]) -> set[str]:
    found = {e.get("action_id") for b in message["blocks"] for e in b.get("elements", [])}
    return {a for a in found if a}


def test_a_novel_ticket_is_marked_and_offers_no_model_guesses(
    web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 0.0)  # the bound alone would automate everything
    created = post_ticket(web, text=OFF_TOPIC)
    assert created["status"] == "pending" and created["novel"] is True
    assert created["novelty"] > 0.5
    message = review_message(web)
    assert_valid_message(message)
    text = str(message["blocks"])
    assert "Unlike anything the model has learned" in text and "🆕" in text
    assert not any(ids.SUGGEST_PATTERN.match(a) for a in action_ids(message))
    assert {ids.PICK_LABEL, ids.NONE_OF_THESE, ids.SKIP} <= action_ids(message)


def test_a_known_ticket_keeps_its_suggestions_and_also_offers_none_of_these(
    reviewing: RunningWeb,
) -> None:
    created = post_ticket(reviewing)  # a card-arrival question: the model knows these
    assert created["novel"] is False
    message = review_message(reviewing)
    assert any(ids.SUGGEST_PATTERN.match(a) for a in action_ids(message))
    assert ids.NONE_OF_THESE in action_ids(message)


def answer_none_of_these(
    web: RunningWeb, secret: str, message: dict[str, Any], user: str, name: str
) -> dict[str, Any]:
    """Click "None of these…", find the modal Slack was asked to open, submit it signed."""
    opened_before = len(web.fake.calls_to("views.open"))
    status, _ = click(web, secret, message, ids.NONE_OF_THESE, user=user)
    assert status == 200
    opened = web.fake.wait_for("views.open", count=opened_before + 1)[-1]
    view = opened.params["view"]
    assert_valid_view(view)
    values = {
        ids.PROPOSED_LABEL_BLOCK: {
            ids.PROPOSED_LABEL_INPUT: {"type": "plain_text_input", "value": name}
        }
    }
    response = web.slack(signed_view_submission(secret, user_id=user, view=view, values=values))
    assert response.status_code == 200
    return response.json() if response.content else {}


def test_none_of_these_is_recorded_shown_and_kept_out_of_labels(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    created = post_ticket(reviewing, text=OFF_TOPIC)
    message = review_message(reviewing)
    answer = answer_none_of_these(reviewing, slack_signing_secret, message, "UALICE", "weather")
    assert answer.get("response_action") is None  # accepted: the modal closes

    reviewing.fake.wait_until(
        lambda: "said by" in str(reviewing.fake.messages(REVIEW_CHANNEL)[0]["blocks"]),
        what="the message to show the answer",
    )
    decided = reviewing.fake.messages(REVIEW_CHANNEL)[0]
    assert_valid_message(decided)
    line = decided["blocks"][0]["text"]["text"]
    assert "said by <@UALICE>" in line and "proposed label: weather" in line
    element(decided, ids.UNDO)

    state = reviewing.api("GET", f"/api/tickets/{created['id']}").json()
    assert state["status"] == "no_label" and state["label"] is None
    assert state["decided_by"] == "UALICE"
    with factory() as session:
        [review] = session.scalars(select(Review))
        assert review.no_label and review.label is None and review.proposed_label == "weather"
        assert labelled_examples(session=session) == []  # never learned as a label
        assert no_label_texts(session=session, limit=10) == [OFF_TOPIC]  # but as "other"


def test_a_bad_proposed_name_and_a_settled_ticket_keep_the_modal_open(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    post_ticket(reviewing, text=OFF_TOPIC)
    message = review_message(reviewing)
    bad = answer_none_of_these(reviewing, slack_signing_secret, message, "UALICE", "no spaces!")
    assert bad["response_action"] == "errors"
    assert "not a valid label name" in bad["errors"][ids.PROPOSED_LABEL_BLOCK]
    click(
        reviewing, slack_signing_secret, message, ids.PICK_LABEL, user="UBOB", option="card_arrival"
    )
    reviewing.fake.wait_until(
        lambda: "chosen by" in str(reviewing.fake.messages(REVIEW_CHANNEL)[0]["blocks"]),
        what="Bob's label to settle the ticket",
    )
    late = answer_none_of_these(reviewing, slack_signing_secret, message, "UALICE", "weather")
    assert late["response_action"] == "errors"
    assert "settled meanwhile" in late["errors"][ids.PROPOSED_LABEL_BLOCK]
    with factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status == TicketStatus.LABELLED and ticket.final_label == "card_arrival"


def test_undo_of_none_of_these_puts_the_ticket_back(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    post_ticket(reviewing, text=OFF_TOPIC)
    message = review_message(reviewing)
    answer_none_of_these(reviewing, slack_signing_secret, message, "UALICE", "weather")
    reviewing.fake.wait_until(
        lambda: "said by" in str(reviewing.fake.messages(REVIEW_CHANNEL)[0]["blocks"]),
        what="the decided message",
    )
    decided = reviewing.fake.messages(REVIEW_CHANNEL)[0]
    click(reviewing, slack_signing_secret, decided, ids.UNDO, user="UALICE")
    reviewing.fake.wait_until(
        lambda: ids.NONE_OF_THESE in action_ids(reviewing.fake.messages(REVIEW_CHANNEL)[0]),
        what="the message to ask again",
    )
    with factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status == TicketStatus.PENDING and ticket.decided_by is None
        assert no_label_texts(session=session, limit=10) == []
