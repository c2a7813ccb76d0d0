"""New topics: a planted cluster of novel tickets becomes one alert and a label suggestion;
similar tickets go to people meanwhile; an admin's signed click creates the label and
re-asks the cluster's tickets with it offered first; a model that learned them closes it."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack import assert_valid_view, signed_app_home_opened, signed_block_action
from bot.services.answers import record_answer, record_no_label
from bot.services.intake import submit_ticket, validate_new_ticket
from bot.services.models import load_active
from bot.services.policy import CONFIDENCE_FLOOR, THRESHOLD, current_policy
from bot.services.policy_cache import PolicyCache
from bot.services.topics import (
    create_label_from_topic,
    settle_learned_topics,
    topic_suggestions,
)
from bot.settings import Settings
from classifier import TrainedModel, embed
from jobs.topics import look_for_topics
from storage.models import Alert, AuditLogEntry, Label, Ticket, TicketStatus, Topic, TopicStatus
from storage.queries.labels import ensure_labels
from tests.bot.conftest import NOW, RunningWeb, install_model, set_policy

VAULT = [
    "My transfer to the Vault failed",
    "Transfer to my savings Vault failed again",
    "Why did the Vault transfer fail?",
    "The Vault transfer did not go through, card 4111 1111 1111 1111",
    "I can't transfer money into my Vault",
    "Vault transfer failed with an error",
]
STRAYS = ["Will it rain in Manchester tomorrow?", "Can you recommend a good film tonight?"]
CARD_NUMBER = "4111 1111 1111 1111"


def plant(factory: sessionmaker[Session], texts: list[str], minutes_ago: int = 30) -> list[int]:
    """Novel tickets waiting for review, as intake stores them."""
    with factory.begin() as session:
        tickets = [
            Ticket(
                text=text,
                source="api",
                created_at=NOW - timedelta(minutes=minutes_ago - i),
                status=TicketStatus.PENDING,
                decision="review",
                suggestions=[["card_arrival", 0.4]],
                predicted_label="card_arrival",
                novel=True,
                novelty=0.9,
            )
            for i, text in enumerate(texts)
        ]
        session.add_all(tickets)
        session.flush()
        return [t.id for t in tickets]


def found_topic(factory: sessionmaker[Session], settings: Settings) -> Topic:
    with factory.begin() as session:
        news = look_for_topics(session=session, settings=settings, now=NOW)
    assert len(news.found) == 1, news
    with factory() as session:
        return session.scalars(select(Topic)).one()


def test_a_planted_cluster_becomes_one_topic_one_alert_and_a_suggestion(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    vault = plant(factory, VAULT)
    plant(factory, STRAYS)
    topic = found_topic(factory, settings)
    assert topic.status == TopicStatus.OPEN and "vault" in topic.proposed_label
    with factory() as session:
        members = session.scalars(select(Ticket.id).where(Ticket.topic_id == topic.id)).all()
        [alert] = session.scalars(select(Alert))
        [suggestion] = topic_suggestions(session=session)
    assert sorted(members) == vault  # the strays stay out
    assert alert.content["headline"].startswith("A new kind of ticket: 6 in the last 24 h")
    shown = str(alert.content["details"])
    assert "Vault" in shown and CARD_NUMBER not in shown  # examples, masked
    assert suggestion.tickets == 6 and suggestion.pending == 6
    assert len(suggestion.examples) == 3

    with factory.begin() as session:  # looking again finds nothing new: no second alert
        again = look_for_topics(session=session, settings=settings, now=NOW)
    assert again.found == ()
    with factory() as session:
        assert len(session.scalars(select(Alert)).all()) == 1


def test_an_arriving_ticket_like_an_open_topic_goes_to_people(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    install_model(factory, trained)
    plant(factory, VAULT)
    topic = found_topic(factory, settings)
    with factory() as session:
        policy = current_policy(session=session, settings=settings)
        model = load_active(session=session)
    lenient = policy.__class__(**{**policy.__dict__, "threshold": 0.0, "confidence_floor": 0.0})
    result = submit_ticket(
        validate_new_ticket(text="Transfer into my Vault failed"),
        factory=factory,
        model=model,
        policy=lenient,
        now=NOW,
        rng=random.Random(0),
    )
    assert result.ticket.novel and result.ticket.topic_id == topic.id
    assert result.ticket.status == TicketStatus.PENDING


def open_home(web: RunningWeb, secret: str, user: str) -> dict[str, Any]:
    before = len(web.fake.calls_to("views.publish"))
    assert web.slack(signed_app_home_opened(secret, user_id=user)).status_code == 200
    web.fake.wait_for("views.publish", count=before + 1)
    view = web.fake.home_views[user]
    assert_valid_view(view)
    return view


def press_in_home(
    web: RunningWeb, secret: str, user: str, view: dict[str, Any], action_id: str, value: str
) -> dict[str, Any]:
    before = len(web.fake.calls_to("views.publish"))
    signed = signed_block_action(
        secret,
        user_id=user,
        action_id=action_id,
        value=value,
        channel_id="D0001",
        message_ts="1.1",
        view=view,
    )
    assert web.slack(signed).status_code == 200
    web.fake.wait_for("views.publish", count=before + 1)
    return web.fake.home_views[user]


def test_create_and_re_ask_from_app_home_through_a_signed_click(
    web: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival"], session=session, now=NOW)
    vault = plant(factory, VAULT)
    topic = found_topic(factory, web.process.deps.settings)

    agent_view = open_home(web, slack_signing_secret, "UBOB")
    assert ids.TOPIC_CREATE not in str(agent_view["blocks"])  # admins only
    view = open_home(web, slack_signing_secret, "UADMIN")
    assert f"Suggested label *{topic.proposed_label}*" in str(view["blocks"])
    topic_id = str(topic.id)
    refused = press_in_home(
        web, slack_signing_secret, "UBOB", view, ids.TOPIC_CREATE, str(topic.id)
    )
    assert "Only triage admins" in str(refused["blocks"])
    with factory() as session:
        assert session.get(Topic, topic.id).status == TopicStatus.OPEN  # type: ignore[union-attr]

    done = press_in_home(web, slack_signing_secret, "UADMIN", view, ids.TOPIC_CREATE, topic_id)
    assert f"Label {topic.proposed_label} created from new topic" in str(done["blocks"])
    assert "6 of its tickets re-asked" in str(done["blocks"])
    with factory() as session:
        stored = session.get(Topic, topic.id)
        assert stored is not None and stored.status == TopicStatus.CREATED
        assert stored.label == topic.proposed_label and stored.resolved_by == "UADMIN"
        label = session.scalars(select(Label).where(Label.name == topic.proposed_label)).one()
        assert label.active
        for ticket_id in vault:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None and (ticket.suggestions or [])[0] == [label.name, None]
        actions = [e.action for e in session.scalars(select(AuditLogEntry))]
    assert "topic_label_created" in actions and "add label" in actions


def test_a_topic_whose_tickets_were_answered_and_learned_closes(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    vault = plant(factory, VAULT)
    topic = found_topic(factory, settings)
    answered = NOW + timedelta(minutes=5)
    with factory.begin() as session:
        for ticket_id in vault:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            ticket.status, ticket.final_label = TicketStatus.LABELLED, "vault_transfer"
            ticket.decided_by, ticket.decided_at = "UALICE", answered
        labels = ["card_arrival"]
        kept = settle_learned_topics(session=session, data_cutoff=NOW, classes=labels, now=answered)
        learned = settle_learned_topics(
            session=session, data_cutoff=answered, classes=labels, now=answered
        )
        assert (kept, learned) == (0, 1)
    with factory() as session:
        assert session.get(Topic, topic.id).status == TopicStatus.LEARNED  # type: ignore[union-attr]


def test_the_label_a_new_topic_is_confused_with_is_held_until_it_is_learned(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    plant(factory, VAULT)  # the model calls them all card_arrival
    topic = found_topic(factory, settings)
    with factory() as session:
        policy = current_policy(session=session, settings=settings)
    assert policy.held == {"card_arrival"}
    tuned = trained.thresholds
    assert policy.thresholds_for(tuned).for_label("card_arrival") == float("inf")
    with factory.begin() as session:  # created: still held until a model knows the label
        ensure_labels(["card_arrival"], session=session, now=NOW)
        create_label_from_topic(
            topic.id, "vault_transfer", session=session, settings=settings, actor="UA", now=NOW
        )
    with factory() as session:
        assert current_policy(session=session, settings=settings).held == {"card_arrival"}
    with factory.begin() as session:
        learned = settle_learned_topics(
            session=session, data_cutoff=NOW, classes=["vault_transfer"], now=NOW
        )
    assert learned == 1
    with factory() as session:
        policy = current_policy(session=session, settings=settings)
    assert policy.held == frozenset() and policy.topics == ()


def test_a_ticket_like_one_answered_none_of_these_goes_to_people_before_any_topic(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    install_model(factory, trained)  # it knows no Vault: it calls these failed_transfer
    set_policy(factory, THRESHOLD, 0.0)
    set_policy(factory, CONFIDENCE_FLOOR, 0.0)
    policies = PolicyCache(settings)
    with factory() as session:
        model = load_active(session=session)

    def submit(text: str) -> Ticket:
        with factory() as session:
            policy = policies.get(session=session)
        return submit_ticket(
            validate_new_ticket(text=text),
            factory=factory,
            model=model,
            policy=policy,
            now=NOW,
            rng=random.Random(0),
        ).ticket

    before = submit("My Vault transfer failed")
    assert before.status == TicketStatus.AUTO and not before.novel  # nothing says it is new
    [answered] = plant(factory, ["Transfer into my Vault failed"])
    with factory.begin() as session:
        record_no_label(
            answered, user="UREV", proposed="vault_transfer", quorum=1, session=session, now=NOW
        )
    reads = policies.reads
    alike = submit("Why did my transfer to the Vault fail?")
    known = submit("I still have not received my new card")
    assert policies.reads == reads + 1  # the answer moved the stamp: read again, once
    assert alike.novel and alike.status == TicketStatus.PENDING and alike.topic_id is None
    assert known.status == TicketStatus.AUTO and not known.novel  # nearer its own label
    with factory() as session:
        assert len(policies.get(session=session).unlabelled) == 1
        assert policies.reads == reads + 1


def test_intake_forgets_a_none_of_these_ticket_once_it_is_no_longer_one(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    first, second = plant(factory, VAULT[:2])
    policies = PolicyCache(settings)
    for ticket_id in (first, second):
        with factory.begin() as session:
            record_no_label(
                ticket_id, user="UREV", proposed=None, quorum=1, session=session, now=NOW
            )
    with factory() as session:
        assert len(policies.get(session=session).unlabelled) == 2
    with factory.begin() as session:  # erased: its text is gone, so is its embedding
        ticket = session.get(Ticket, first)
        assert ticket is not None
        ticket.erased_at = NOW
    with factory() as session:
        kept = policies.get(session=session).unlabelled
    assert len(kept) == 1
    with factory() as session:
        text = session.get(Ticket, second).text  # type: ignore[union-attr]
    assert float(kept[0] @ embed([text])[0]) > 0.999


def test_tickets_given_a_new_topic_label_are_consulted_until_a_model_learns_it(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    first, *_ = plant(factory, VAULT)
    topic = found_topic(factory, settings)
    policies = PolicyCache(settings)
    with factory.begin() as session:
        create_label_from_topic(
            topic.id, "vault_transfer", session=session, settings=settings, actor="UA", now=NOW
        )
    with factory() as session:
        assert len(policies.get(session=session).unlabelled) == 0  # nobody answered yet
    with factory.begin() as session:  # the model cannot give this label: like it, to people
        record_answer(
            first, user="UREV", label="vault_transfer", quorum=1, session=session, now=NOW
        )
    with factory() as session:
        kept = policies.get(session=session).unlabelled
        text = session.get(Ticket, first).text  # type: ignore[union-attr]
    assert len(kept) == 1 and float(kept[0] @ embed([text])[0]) > 0.999
    with factory.begin() as session:
        settle_learned_topics(session=session, data_cutoff=NOW, classes=["vault_transfer"], now=NOW)
    with factory() as session:
        assert len(policies.get(session=session).unlabelled) == 0  # learned: the model knows
