"""Micro-batched intake: tickets arriving together are taken in together, each answered alone.

Tested for what each caller is told and what is stored, never for speed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack, signed_slash_command
from bot.services.intake import validate_new_ticket
from bot.services.intake_batch import (
    BatchNotStored,
    Submission,
    TicketNotStored,
    classify_each,
    submit_batch,
    write_each,
    write_together,
)
from bot.services.models import load_active
from bot.services.policy import THRESHOLD
from bot.services.policy_cache import PolicyCache
from bot.services.ticket_view import public_view
from bot.settings import Settings
from classifier import TrainedModel
from storage.database import reading, unit_of_work
from storage.models import OutboxMessage, Ticket
from tests.bot.conftest import (
    API_TOKEN,
    NOW,
    REVIEW_CHANNEL,
    RunningWeb,
    install_model,
    serving,
    set_policy,
    web_settings,
)
from tests.bot.steps import CARD_TEXT

TEXTS = [
    "I still have not received my new card",
    "How do I top up with Apple Pay?",
    "My card payment was declined at the shop",
    "Why was I charged a fee for a transfer?",
    "I want to change my PIN",
    "The exchange rate on my payment looks wrong",
]


@pytest.fixture
def batching(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    factory: sessionmaker[Session],
    trained: TrainedModel,
) -> Iterator[RunningWeb]:
    """The web process with the sample model, gathering tickets for up to 50 ms at a time."""
    install_model(factory, trained)
    settings = web_settings(
        database_url, fake_slack, slack_signing_secret, TRIAGE_INTAKE_BATCH_MS="50"
    )
    with serving(settings, engine, fake_slack) as running:
        yield running


def post_all(web: RunningWeb, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every body at the same moment, one thread and connection each."""
    answers: list[httpx.Response | None] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(index: int) -> None:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            start.wait()
            answers[index] = client.post(
                web.url + "/api/tickets",
                json=bodies[index],
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def review_posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        call.params
        for call in fake.calls_to("chat.postMessage", include_faulty=False)
        if call.ok and call.params["channel"] == REVIEW_CHANNEL and not call.params.get("thread_ts")
    ]


def test_concurrent_requests_each_get_their_own_answer(
    batching: RunningWeb, factory: sessionmaker[Session]
) -> None:
    set_policy(factory, THRESHOLD, 1.0)  # every ticket to review: each must be posted once
    bodies: list[dict[str, Any]] = []
    for i in range(18):
        bodies.append({"text": TEXTS[i % len(TEXTS)], "source": "zendesk", "external_id": f"z{i}"})
    for i in (0, 0, 5, 5, 5):  # resends of two of them, at the same moment
        bodies.append({"text": TEXTS[i % len(TEXTS)], "source": "zendesk", "external_id": f"z{i}"})
    bodies.append({"text": TEXTS[0], "source": "other", "external_id": "z0"})  # another source
    bodies.append({"text": TEXTS[1]})  # no external id: always a new ticket
    bodies.append({"source": "zendesk", "external_id": "bad"})  # no text: refused alone
    answers = post_all(batching, bodies)

    assert answers[-1].status_code == 422 and "text" in answers[-1].json()["error"]
    by_key: dict[tuple[str, str], list[httpx.Response]] = {}
    for body, answer in zip(bodies[:-2], answers[:-2], strict=True):
        assert answer.status_code in (200, 201), answer.text
        assert answer.json()["external_id"] == body["external_id"]
        assert answer.json()["source"] == body["source"]
        by_key.setdefault((body["source"], body["external_id"]), []).append(answer)
    for sent in by_key.values():
        assert [a.status_code for a in sent].count(201) == 1  # one creates, resends get it
        assert len({a.json()["id"] for a in sent}) == 1
    assert answers[-2].status_code == 201

    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Ticket))
    assert stored == len(by_key) + 1
    assert batching.process.deps.intake.batches < len(bodies)  # they were gathered
    batching.fake.wait_until(
        lambda: len(review_posts(batching.fake)) >= stored, 15, "a review post per ticket"
    )
    assert len(review_posts(batching.fake)) == stored


def test_an_admin_change_applies_from_the_next_request(
    batching: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    set_policy(factory, THRESHOLD, 0.0)  # every known kind of ticket is automatic

    def post(external_id: str) -> dict[str, Any]:
        response = batching.api(
            "POST", "/api/tickets", json={"text": CARD_TEXT, "external_id": external_id}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def triage(command: str) -> None:
        url = batching.fake.new_response_url()
        signed = signed_slash_command(
            slack_signing_secret, text=command, user_id="UADMIN", response_url=url
        )
        response = batching.slack(signed)
        assert response.status_code == 200
        if response.json().get("text") == "Working on it…":
            batching.fake.wait_for_response(url=url)  # the change is stored once it answered

    assert post("before")["decision"] == "auto"
    reads = batching.process.deps.policies.reads
    for i in range(5):
        assert post(f"same-{i}")["decision"] == "auto"
    assert batching.process.deps.policies.reads == reads  # not read again per ticket

    triage("pause")
    assert post("paused")["decision"] == "review"
    triage("resume")
    assert post("resumed")["decision"] == "auto"


def submissions(*texts_and_ids: tuple[str, str]) -> list[Submission]:
    return [
        Submission(validate_new_ticket(text=t, source="zendesk", external_id=e))
        for t, e in texts_and_ids
    ]


def refuse_texts_containing(engine: Engine, marker: str) -> None:
    """A database rule that refuses one kind of ticket, as a constraint would."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON tickets "
                    f"WHEN NEW.text LIKE '%{marker}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text LIKE '%{marker}%' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON tickets "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def test_a_ticket_the_database_refuses_fails_alone(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)  # every ticket to review: each queues one post
    refuse_texts_containing(engine, "poison")
    with factory() as session:
        model = load_active(session=session)
    batch = submissions(
        (TEXTS[0], "a"), ("my card is poison", "b"), (TEXTS[1], "c"), (TEXTS[0], "a")
    )
    answers = submit_batch(
        batch,
        factory=factory,
        model=model,
        policies=PolicyCache(settings),
        now=NOW,
        rng=random.Random(0),
    )
    created = [getattr(a, "created", None) for a in answers]
    assert created == [True, None, True, False]
    assert isinstance(answers[1], TicketNotStored)
    with factory() as session:
        stored = {t.external_id for t in session.scalars(select(Ticket))}
        outbox = session.scalars(select(OutboxMessage.ticket_id)).all()
    assert stored == {"a", "c"}
    assert None not in outbox and len(set(outbox)) == len(outbox) == 2  # one post each


def test_a_batch_whose_commit_fails_leaves_nothing_behind(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    install_model(factory, trained)
    with factory() as session:
        model = load_active(session=session)

    def crash(session: Session) -> None:
        """The commit of a transaction holding tickets fails (however they were written)."""
        if session.in_nested_transaction():
            return
        if session.scalar(select(func.count()).select_from(Ticket)):
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(factory, "before_commit", crash)
    batch = submissions(*((t, f"x{i}") for i, t in enumerate(TEXTS)))
    policies = PolicyCache(settings)
    with pytest.raises(BatchNotStored):
        submit_batch(
            batch, factory=factory, model=model, policies=policies, now=NOW, rng=random.Random(0)
        )
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0

    event.remove(factory, "before_commit", crash)  # the writer is back: the retry succeeds
    answers = submit_batch(
        batch, factory=factory, model=model, policies=policies, now=NOW, rng=random.Random(0)
    )
    assert [getattr(a, "created", None) for a in answers] == [True] * len(TEXTS)


def stored_rows(session: Session) -> tuple[list[Any], list[Any]]:
    """Every column of every ticket and outbox row, in id order; ids as positions (a
    PostgreSQL sequence does not go back on rollback, so the two ways get other ids)."""
    tickets = session.execute(text("SELECT * FROM tickets ORDER BY id")).mappings().all()
    outbox = session.execute(text("SELECT * FROM outbox ORDER BY id")).mappings().all()
    position = {row["id"]: index for index, row in enumerate(tickets)}
    return (
        [{**row, "id": position[row["id"]]} for row in tickets],
        [{**row, "id": None, "ticket_id": position[row["ticket_id"]]} for row in outbox],
    )


def test_a_batch_written_together_stores_what_one_by_one_stores(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    """The batch's own INSERTs (write_together) and the ORM, ticket by ticket in savepoints
    (write_each, the fallback), store the same rows and queue the same messages."""
    install_model(factory, trained)
    with factory() as session:
        model = load_active(session=session)
    assert model is not None
    guesses = [str(p) for p in model.model.predict([TEXTS[0], TEXTS[1]])]
    set_policy(factory, "audit_rate", 0.5)  # some automatic tickets are audited
    set_policy(factory, "label_thresholds", {guesses[1]: 1.0})  # and one label is reviewed
    with unit_of_work(factory) as session:  # another is routed to a channel
        session.execute(
            text("UPDATE labels SET route_channel = 'CROUTE' WHERE name = :name"),
            {"name": guesses[0]},
        )
    batch = [
        Submission(
            validate_new_ticket(
                text=text_,
                source="zendesk",
                external_id=f"w{i}",
                subject="Subject" if i % 2 else None,
                callback_url="https://helpdesk.example/hook" if i % 3 == 0 else None,
                metadata={"n": i} if i % 2 == 0 else None,
            ),
            reply_to=("CINTAKE", f"17000.{i}") if i % 4 == 1 else None,
        )
        for i, text_ in enumerate(TEXTS * 3)
    ]
    policies = PolicyCache(settings)
    with reading(factory) as session:
        policy = policies.get(session=session)
    classified = classify_each(
        [s.ticket.text for s in batch], model=model, policy=policy, rng=random.Random(3)
    )
    decisions = {str(c.decision) for c, _ in classified if not isinstance(c, Exception)}
    assert {"auto", "review"} <= decisions
    results = []
    for write in (write_together, write_each):
        with unit_of_work(factory) as session:
            answers = write(batch, classified, session=session, now=NOW)
            stored_ids = session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
            assert [a.ticket.id for a in answers] == stored_ids  # each answer its own row
            views = [public_view(a.ticket) | {"id": None} for a in answers]
            if write is write_together:  # as a committed session leaves them: nothing to flush
                states = [inspect(a.ticket) for a in answers]
                assert all(s.detached and not s.modified and not s.expired for s in states)
                assert all(s.unloaded == {"reviews"} for s in states)
            results.append((stored_rows(session), views))
            session.rollback()  # the next way starts from the same empty tables
    (together, views_together), (each, views_each) = results
    assert together == each
    assert views_together == views_each
    tickets, outbox = together
    assert len(tickets) == len(batch)
    kinds = {row["kind"] for row in outbox}
    assert {"post_ticket", "route", "thread_reply", "callback"} <= kinds
