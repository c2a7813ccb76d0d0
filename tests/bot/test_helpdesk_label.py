"""A label decided in the helpdesk (`POST /api/tickets/{id}/label`): a human answer by
`helpdesk:<actor>` under the rules of a click, shown in Slack, learned and exported."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

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
