"""A label decided in the helpdesk (`POST /api/tickets/{id}/label`): a human answer by
`helpdesk:<actor>` under the rules of a click, shown in Slack, learned and exported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack import FakeSlack
from bot.services.policy import QUORUM, THRESHOLD
from bot.services.stats import reviewer_stats
from classifier import TrainedModel
from storage.models import Ticket
from storage.queries.tickets import labelled_examples
from tests.bot.conftest import (
    NOW,
    RunningWeb,
    install_model,
    serving,
    set_policy,
    web_settings,
)
from tests.bot.openapi_check import assert_conforms
from tests.bot.steps import click, post_ticket, review_message, reviews
from tests.bot.test_review_loop import route_every_label, route_posts
from tests.bot.test_second_opinions import asking, current, held

LABEL = "/api/tickets/{ticket_id}/label"


def send_label(web: RunningWeb, ticket_id: int, **body: Any) -> Any:
    response = web.api("POST", f"/api/tickets/{ticket_id}/label", json=body)
    return response.status_code, assert_conforms(response, LABEL)


def undo_label(web: RunningWeb, ticket_id: int, actor: str) -> Any:
    response = web.api("DELETE", f"/api/tickets/{ticket_id}/label", params={"actor": actor})
    return response.status_code, assert_conforms(response, LABEL)


def updated_with(web: RunningWeb, words: str) -> dict[str, Any]:
    """The first chat.update of the review message whose blocks say `words`."""
    [call] = web.fake.wait_for(
        lambda c: c.method == "chat.update" and words in str(c.params.get("blocks"))
    )
    return dict(call.params)


def test_the_helpdesk_label_decides_like_a_click_and_shows_in_slack(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = reviewing
    created = post_ticket(web, subject="Card still missing", source="zendesk", external_id="9")
    message = review_message(web)
    quoted = message["blocks"][1]["text"]["text"]
    assert quoted.startswith("*Card still missing*\n> I ordered my card")
    status, answer = send_label(web, created["id"], label="card_arrival", actor="ann.lee")
    assert status == 200 and answer["outcome"] == "decided"
    ticket = answer["ticket"]
    assert (ticket["status"], ticket["label"]) == ("labelled", "card_arrival")
    assert ticket["decided_by"] == "helpdesk:ann.lee"
    update = updated_with(web, "chosen by ann.lee (helpdesk)")
    assert ids.UNDO not in str(update) and "<@helpdesk" not in str(update)
    assert [(r.slack_user, r.label) for r in reviews(factory)] == [
        ("helpdesk:ann.lee", "card_arrival")
    ]
    with factory() as session:  # learned from, and counted among the reviewers
        assert [e.ticket_id for e in labelled_examples(session=session)] == [created["id"]]
        people = reviewer_stats(session=session, now=datetime.now(NOW.tzinfo), days=7)
        assert [(p.user, p.answers) for p in people] == [("helpdesk:ann.lee", 1)]
    [record] = web.api("GET", "/api/export").json()["tickets"]
    assert record["decided_how"] == "helpdesk" and record["answers"][0]["reviewer"] == (
        "helpdesk:ann.lee"
    )

    # The first answer wins: another agent, and then a click in Slack, are refused.
    status, problem = send_label(web, created["id"], label="card_linking", actor="bob")
    assert status == 409 and problem["type"] == "urn:triage-loop:problem:conflict"
    assert (problem["label"], problem["decided_by"]) == ("card_arrival", "helpdesk:ann.lee")
    assert problem["ticket"]["label"] == "card_arrival"
    assert "already labelled card_arrival by helpdesk:ann.lee" in problem["detail"]
    click(web, slack_signing_secret, message, f"{ids.SUGGEST}_0", user="UBOB")
    [reply] = web.fake.wait_for_response()
    assert reply["text"] == "Already labelled *card_arrival* by ann.lee (helpdesk)."
    # The same request again (a retry after a timeout) is harmless.
    status, again = send_label(web, created["id"], label="card_arrival", actor="ann.lee")
    assert (status, again["outcome"]) == (200, "duplicate")
    assert len(reviews(factory)) == 1


def test_undo_by_the_same_agent_within_five_minutes_only(
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    trained: TrainedModel,
) -> None:
    clock = [datetime.now(NOW.tzinfo)]
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    with serving(settings, engine, fake_slack, now=lambda: clock[0]) as web:
        first, second = post_ticket(web), post_ticket(web, text="My card was stolen yesterday")
        review_message(web, count=2)
        for ticket in (first, second):
            assert send_label(web, ticket["id"], label="card_arrival", actor="ann")[0] == 200

        status, problem = undo_label(web, first["id"], "bob")
        assert status == 409 and "Only helpdesk:ann" in problem["detail"]
        status, answer = undo_label(web, first["id"], "ann")
        assert (status, answer["outcome"]) == (200, "undone")
        assert (answer["ticket"]["status"], answer["ticket"]["label"]) == ("pending", None)
        updated_with(web, "Pick another label")  # asked again in Slack
        status, problem = undo_label(web, first["id"], "ann")
        assert status == 409 and "no answer from a person" in problem["detail"]

        clock[0] += timedelta(minutes=6)
        status, problem = undo_label(web, second["id"], "ann")
        assert status == 409 and "too late" in problem["detail"]
        assert problem["ticket"]["label"] == "card_arrival"
    with factory() as session:
        assert [r.undone_at is not None for r in session.get(Ticket, first["id"]).reviews] == [True]


def test_a_quorum_counts_the_helpdesk_as_one_person(
    reviewing: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = reviewing
    set_policy(factory, QUORUM, 2)
    created = post_ticket(web)
    message = review_message(web)
    status, answer = send_label(web, created["id"], label="card_arrival", actor="ann")
    assert (status, answer["outcome"], answer["ticket"]["status"]) == (200, "recorded", "pending")
    updated_with(web, "ann (helpdesk) → card_arrival")
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UBOB", option="card_arrival")
    web.fake.wait_until(
        lambda: web.api("GET", f"/api/tickets/{created['id']}").json()["status"] == "labelled"
    )
    assert web.api("GET", f"/api/tickets/{created['id']}").json()["decided_by"] == "UBOB"


def test_refusals_name_the_field_and_change_nothing(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    web = reviewing
    created = post_ticket(web)
    cases: list[tuple[int | str, dict[str, Any], int, str | None]] = [
        (created["id"], {"label": "no_such_label", "actor": "ann"}, 422, "label"),
        (created["id"], {"label": "", "actor": "ann"}, 422, "label"),
        (created["id"], {"actor": "ann"}, 422, "label"),
        (created["id"], {"label": "card_arrival"}, 422, "actor"),
        (created["id"], {"label": "card_arrival", "actor": "ann lee"}, 422, "actor"),
        (created["id"], {"label": "card_arrival", "actor": "a" * 56}, 422, "actor"),
        (created["id"], {"label": "card_arrival", "actor": "ann\n"}, 422, "actor"),
        (created["id"], {"label": "card_\ud800", "actor": "ann"}, 422, "label"),
        (999_999, {"label": "card_arrival", "actor": "ann"}, 404, None),
    ]
    for ticket_id, body, status, field in cases:
        response = web.api(
            "POST",
            f"/api/tickets/{ticket_id}/label",
            content=json.dumps(body),  # \ud800 escaped, as a hostile client would send it
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == status, (body, response.text)
        assert assert_conforms(response, LABEL).get("field") == field
    assert undo_label(web, created["id"], "ann lee")[0] == 422
    assert undo_label(web, 999_999, "ann")[0] == 404
    assert reviews(factory) == []
    assert web.api("GET", f"/api/tickets/{created['id']}").json()["status"] == "pending"


def test_an_automatic_label_stands_against_a_late_helpdesk_label(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    with factory.begin() as session:
        ticket = Ticket(
            text="t", status="auto", decision="auto", final_label="refund", created_at=NOW
        )
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
    status, problem = send_label(web, ticket_id, label="refund", actor="ann")
    assert status == 409
    assert "already labelled refund automatically" in problem["detail"]
    assert problem["decided_by"] is None and problem["label"] == "refund"
    assert undo_label(web, ticket_id, "ann")[0] == 409


@pytest.fixture
def second_opinions(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    factory: sessionmaker[Session],
    trained: TrainedModel,
) -> Iterator[RunningWeb]:
    """Every reviewed ticket's first answer waits for a second; labels route to CROUTE."""
    for web in asking(
        database_url, engine, fake_slack, slack_signing_secret, TRIAGE_SECOND_OPINION_SHARE="1"
    ):
        install_model(factory, trained)
        set_policy(factory, THRESHOLD, 1.0)
        route_every_label(factory, "CROUTE")
        yield web


def test_a_helpdesk_label_waits_for_a_second_opinion_asked_in_slack(
    second_opinions: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = second_opinions
    callback = web.fake.new_callback_url()
    created = post_ticket(web, callback_url=callback)
    review_message(web)
    status, answer = send_label(web, created["id"], label="card_arrival", actor="ann")
    assert (status, answer["outcome"]) == (200, "second_opinion")
    assert (answer["ticket"]["status"], answer["ticket"]["label"]) == ("pending", None)
    blind = current(web, "Second opinion")  # someone else is asked in Slack, blind
    assert "answered by ann (helpdesk); waiting for someone else" in str(blind["blocks"])
    assert held(factory, created["id"])

    # Never the same person twice: the agent again is a duplicate, the ticket still waits
    status, again = send_label(web, created["id"], label="exchange_rate", actor="ann")
    assert (status, again["outcome"]) == (200, "duplicate")
    assert held(factory, created["id"])

    click(web, slack_signing_secret, blind, ids.PICK_LABEL, user="UBOB", option="card_arrival")
    [body] = web.fake.wait_for_callback(url=callback)
    assert (body["status"], body["label"], body["decided_by"]) == (
        "labelled",
        "card_arrival",
        "UBOB",
    )
    settled = current(web, "chosen by <@UBOB>")
    assert "answers: ann (helpdesk) → card_arrival, <@UBOB> → card_arrival" in str(
        settled["blocks"]
    )
    web.fake.wait_until(lambda: len(route_posts(web)) == 1, what="one route post")
    assert [(r.slack_user, r.label) for r in reviews(factory)] == [
        ("helpdesk:ann", "card_arrival"),
        ("UBOB", "card_arrival"),
    ]


def test_a_helpdesk_label_cannot_settle_a_disagreement_that_waits_for_an_admin(
    second_opinions: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = second_opinions
    callback = web.fake.new_callback_url()
    created = post_ticket(web, callback_url=callback)
    review_message(web)
    assert send_label(web, created["id"], label="card_arrival", actor="ann")[1]["outcome"] == (
        "second_opinion"
    )
    blind = current(web, "One answer so far")
    click(web, slack_signing_secret, blind, ids.PICK_LABEL, user="UBOB", option="exchange_rate")
    third = current(web, "Two answers disagree: a third person decides.")
    # The helpdesk can be the third person (another agent): the third answer disagrees too
    status, answer = send_label(web, created["id"], label="lost_or_stolen_card", actor="cy")
    assert (status, answer["outcome"]) == (200, "second_opinion")
    assert "Needs an admin:" not in str(third["blocks"])
    current(web, "Needs an admin:")

    status, problem = send_label(web, created["id"], label="card_arrival", actor="dee")
    assert status == 409 and "only an admin can settle it" in problem["detail"]
    assert problem["ticket"]["status"] == "pending"
    assert held(factory, created["id"])
    assert [r.slack_user for r in reviews(factory)] == ["helpdesk:ann", "UBOB", "helpdesk:cy"]

    admin = current(web, "waiting for an admin")
    click(web, slack_signing_secret, admin, ids.PICK_LABEL, user="UADMIN", option="exchange_rate")
    [body] = web.fake.wait_for_callback(url=callback)
    assert (body["label"], body["decided_by"]) == ("exchange_rate", "UADMIN")
