"""`triage labels …` and `triage labels suggest …`: the label set changed from a shell, with
the effect on the next ticket that `/triage labels` has (tests/bot/test_commands.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.services.policy import THRESHOLD
from classifier import TrainedModel, embed
from storage.models import (
    AuditLogEntry,
    Label,
    OutboxKind,
    OutboxMessage,
    Review,
    RuntimeSetting,
    Ticket,
    TicketStatus,
    Topic,
    TopicStatus,
)
from tests.bot.conftest import (
    ALERTS_CHANNEL,
    NOW,
    OPERATOR,
    Ran,
    RunningWeb,
    install_model,
    set_policy,
)
from tests.bot.steps import CARD_TEXT, label_history, post_ticket, review_message

Cli = Callable[..., Ran]
ANNOUNCED = f"Announced in {ALERTS_CHANNEL}."


def said(ran: Ran) -> str:
    """The one line a successful command printed."""
    assert ran.status == 0, ran.err
    [line] = ran.out.splitlines()
    return line


def actions(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        entries = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))
        return [(e.actor, e.action) for e in entries]


def test_label_commands_rename_everywhere_retire_route_and_list(
    cli: Cli, factory: sessionmaker[Session]
) -> None:
    label_history(factory)

    added = said(cli("labels", "add", "refund_request", "Money <b>back</b> & more", "--as", "al"))
    assert added == f"Label refund_request added. {ANNOUNCED}"
    renamed = said(cli("labels", "rename", "card_arrival", "card_late"))
    assert renamed == (
        "Label card_arrival renamed to card_late, in history too; the model's suggestions use "
        f"the new name from the next ticket. {ANNOUNCED}"
    )
    assert said(cli("labels", "retire", "lost_card")).startswith("Label lost_card retired: ")
    routed = said(cli("labels", "route", "card_late", "C0ROUTE"))
    assert routed == f"Tickets labelled card_late now go to C0ROUTE. {ANNOUNCED}"
    by_name = said(cli("labels", "route", "refund_request", "#refunds"))
    assert by_name == f"Tickets labelled refund_request now go to #refunds. {ANNOUNCED}"
    again = said(cli("labels", "route", "refund_request", "refunds"))
    assert again == "Label refund_request already goes to #refunds. Nothing changed."

    assert cli("labels").out.splitlines() == [
        "2 active labels.",
        "LABEL           ROUTE     DESCRIPTION",
        "card_late       C0ROUTE",
        "refund_request  #refunds  Money <b>back</b> & more",
        "Retired (1): lost_card",
    ]
    assert cli("labels", "list").out == cli("labels").out
    listed = json.loads(cli("labels", "--json").out)
    assert listed == json.loads(cli("labels", "list", "--json").out)
    assert listed == [
        {"name": "card_late", "active": True, "description": None, "route_channel": "C0ROUTE"},
        {
            "name": "refund_request",
            "active": True,
            "description": "Money <b>back</b> & more",
            "route_channel": "refunds",
        },
        {"name": "lost_card", "active": False, "description": None, "route_channel": None},
    ]
    with factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.predicted_label, ticket.final_label) == ("card_late", "card_late")
        assert session.scalars(select(Review.label)).one() == "card_late"
        overrides = session.get(RuntimeSetting, "label_thresholds")
        assert overrides is not None and overrides.value == {"card_late": 0.9}
    me = f"cli:{OPERATOR}"
    assert actions(factory)[1:] == [
        ("cli:al", "add label"),
        (me, "set label_thresholds"),
        (me, "set label_renames"),
        (me, "rename label"),
        (me, "retire label"),
        (me, "route label"),
        (me, "route label"),
    ]


def test_the_next_ticket_follows_a_rename_and_a_retirement(
    web: RunningWeb, cli: Cli, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    """The model still says card_arrival until it is retrained: its tickets must not."""
    install_model(factory, trained)
    said(cli("threshold", "0"))
    assert post_ticket(web, external_id="before")["label"] == "card_arrival"

    said(cli("labels", "rename", "card_arrival", "card_late"))
    said(cli("labels", "route", "card_late", "C0ROUTE"))
    renamed = post_ticket(web, external_id="renamed")
    assert (renamed["status"], renamed["label"]) == ("auto", "card_late")
    [route] = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == "C0ROUTE"
    )
    assert "card_late" in route.params["text"]

    retired = said(cli("labels", "retire", "card_late"))
    assert "tickets the model still gives it go to review" in retired
    held = post_ticket(web, external_id="retired")
    assert (held["status"], held["decision"], held["label"]) == ("pending", "review", None)
    assert held["suggested_label"] not in ("card_late", "card_arrival")
    message = review_message(web)
    assert "card_late" not in str(message["blocks"]) and "card_arrival" not in str(message)


def open_topic(factory: sessionmaker[Session], *, proposed: str) -> tuple[int, int]:
    """A new topic around the card text with one ticket waiting in it, as the worker's topic
    job leaves it; returns (topic id, waiting ticket id)."""
    with factory.begin() as session:
        topic = Topic(
            status=TopicStatus.OPEN,
            proposed_label=proposed,
            keywords=["card", "arrive"],
            centroid=[float(x) for x in embed([CARD_TEXT])[0]],
            radius=0.8,
            found_at=NOW,
            updated_at=NOW,
        )
        session.add(topic)
        session.flush()
        waiting = Ticket(
            text=CARD_TEXT + " yet",
            created_at=NOW,
            status=TicketStatus.PENDING,
            decision="review",
            predicted_label="card_arrival",
            suggestions=[["card_arrival", 0.9]],
            novel=True,
            topic_id=topic.id,
        )
        session.add(waiting)
        session.flush()
        return topic.id, waiting.id


@pytest.fixture
def modelled(web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel) -> RunningWeb:
    """The sample model active, with an admin bar of 0: only novelty sends tickets to people."""
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 0.0)
    return web


def test_dismissing_a_suggestion_lets_its_look_alikes_be_automatic_again(
    modelled: RunningWeb, cli: Cli, factory: sessionmaker[Session]
) -> None:
    web = modelled
    topic, _ = open_topic(factory, proposed="card_delay")
    assert cli("labels", "suggest").out.splitlines() == [
        "TOPIC  SUGGESTED LABEL  TICKETS  WAITING  FOUND                 FREQUENT WORDS",
        f"{topic:>5}  card_delay             1        1  2026-11-23 12:00 UTC  card, arrive",
        f"Topic {topic}, e.g. “{CARD_TEXT} yet”",
        "Create its label with `triage labels suggest create TOPIC [NAME]`, "
        "or dismiss it with `triage labels suggest dismiss TOPIC`.",
    ]
    [listed] = json.loads(cli("labels", "suggest", "list", "--json").out)
    assert (listed["topic_id"], listed["proposed_label"], listed["pending"]) == (
        topic,
        "card_delay",
        1,
    )
    held = post_ticket(web, CARD_TEXT + " at all", external_id="like the topic")
    assert (held["status"], held["decision"]) == ("pending", "review")
    with factory() as session:
        assert session.scalar(select(Ticket.topic_id).where(Ticket.id == held["id"])) == topic

    dismissed = said(cli("labels", "suggest", "dismiss", str(topic), "--as", "alice"))
    assert dismissed == (
        f"Suggested label card_delay (topic #{topic}) dismissed: similar tickets are no longer "
        f"sent to people for resembling it. {ANNOUNCED}"
    )
    assert post_ticket(web, CARD_TEXT + " at all", external_id="after")["status"] == "auto"
    assert said(cli("labels", "suggest")) == "No new topic is waiting for a label."
    refused = cli("labels", "suggest", "dismiss", str(topic))
    assert (refused.status, refused.err) == (
        2,
        f"triage: error: Topic {topic} is already dismissed.\n",
    )
    assert actions(factory) == [("UADMIN", "set threshold"), ("cli:alice", "topic_dismissed")]
    with factory() as session:
        assert session.get(Topic, topic).resolved_by == "cli:alice"  # type: ignore[union-attr]


def test_creating_a_suggested_label_re_asks_its_tickets_with_it(
    modelled: RunningWeb, cli: Cli, factory: sessionmaker[Session]
) -> None:
    web = modelled
    topic, waiting = open_topic(factory, proposed="card_delay")
    created = said(cli("labels", "suggest", "create", str(topic), "card_late"))
    assert created == (
        f"Label card_late created from new topic #{topic}; 1 of its tickets re-asked with it "
        f"offered first. {ANNOUNCED}"
    )
    with factory() as session:
        label = session.scalars(select(Label).where(Label.name == "card_late")).one()
        assert label.active
        ticket = session.get(Ticket, waiting)
        assert ticket is not None and (ticket.suggestions or [])[0][0] == "card_late"
        refreshed = session.scalars(
            select(OutboxMessage.ticket_id).where(OutboxMessage.kind == OutboxKind.REFRESH_TICKET)
        ).all()
        assert refreshed == [waiting]
        closed = session.get(Topic, topic)
        assert closed is not None and (closed.status, closed.label) == ("created", "card_late")
    # Its label exists, but the model does not know it yet: look-alikes still go to people.
    held = post_ticket(web, CARD_TEXT + " at all", external_id="after")
    assert held["status"] == "pending" and held["novel"] is True
    me = f"cli:{OPERATOR}"
    assert actions(factory)[1:] == [(me, "add label"), (me, "topic_label_created")]
