"""`POST /api/tickets/batch`: each ticket validated and answered on its own, idempotent per
(source, external id) within a batch, across batches and with the single endpoint."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.api.batch import MAX_TICKETS
from storage.models import Ticket
from tests.bot.conftest import API_TOKEN, REVIEW_CHANNEL, RunningWeb

TEXTS = [
    "I still have not received my new card",
    "How do I top up with Apple Pay?",
    "My card payment was declined at the shop",
]


def stored(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def review_posts(web: RunningWeb) -> list[dict[str, Any]]:
    return [
        call.params
        for call in web.fake.calls_to("chat.postMessage", include_faulty=False)
        if call.ok and call.params["channel"] == REVIEW_CHANNEL and not call.params.get("thread_ts")
    ]


def test_each_ticket_is_answered_on_its_own(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    tickets: list[Any] = [
        {"text": TEXTS[0], "source": "zendesk", "external_id": "z1"},
        {"text": TEXTS[1], "source": "zendesk", "external_id": "z2", "subject": "Top up"},
        {"text": TEXTS[0], "source": "zendesk", "external_id": "z1"},  # resent in the batch
        {"source": "zendesk", "external_id": "z3"},  # no text
        "not a ticket",
        {"text": TEXTS[2], "callback_url": "ftp://example.com"},  # a bad field
        {"text": TEXTS[2]},  # no external id: always new
    ]
    response = reviewing.api("POST", "/api/tickets/batch", json={"tickets": tickets})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(tickets)))
    assert [r["status"] for r in results] == [201, 201, 200, 422, 400, 422, 201]
    assert results[2]["ticket"] == results[0]["ticket"]
    for result in (results[0], results[1], results[6]):  # the single endpoint's JSON
        single = reviewing.api("GET", f"/api/tickets/{result['ticket']['id']}")
        assert single.json() == result["ticket"]
    assert results[1]["ticket"]["external_id"] == "z2"
    problem = results[3]["error"]
    assert problem["status"] == 422 and problem["field"] == "text"
    assert problem["title"] and problem["type"] and "text" in problem["detail"]
    assert problem["error"] == problem["detail"]
    assert results[4]["error"]["status"] == 400
    assert results[5]["error"]["field"] == "callback_url"
    assert stored(factory) == 3
    reviewing.fake.wait_until(lambda: len(review_posts(reviewing)) >= 3, 15, "3 review posts")
    assert len(review_posts(reviewing)) == 3  # one per stored ticket, none for the resend


def test_a_batch_sent_again_finds_its_tickets(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    single = reviewing.api(
        "POST", "/api/tickets", json={"text": TEXTS[0], "source": "hd", "external_id": "7"}
    )
    assert single.status_code == 201
    tickets = [{"text": TEXTS[i % 3], "source": "hd", "external_id": str(i)} for i in range(5, 10)]
    first = reviewing.api("POST", "/api/tickets/batch", json={"tickets": tickets}).json()
    assert [r["status"] for r in first["results"]] == [201, 201, 200, 201, 201]
    assert first["results"][2]["ticket"]["id"] == single.json()["id"]
    again = reviewing.api("POST", "/api/tickets/batch", json={"tickets": tickets}).json()
    assert [r["status"] for r in again["results"]] == [200] * 5
    assert [r["ticket"]["id"] for r in again["results"]] == [
        r["ticket"]["id"] for r in first["results"]
    ]
    resent = reviewing.api(
        "POST", "/api/tickets", json={"text": TEXTS[0], "source": "hd", "external_id": "9"}
    )
    assert resent.status_code == 200
    assert resent.json()["id"] == first["results"][4]["ticket"]["id"]
    assert stored(factory) == 5


def test_a_body_that_is_not_a_batch_is_refused_whole(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    too_many = [{"text": TEXTS[0], "external_id": str(i)} for i in range(MAX_TICKETS + 1)]
    response = reviewing.api("POST", "/api/tickets/batch", json={"tickets": too_many})
    assert response.status_code == 413
    assert "500" in response.text
    for body in ({"tickets": []}, {"tickets": {"text": TEXTS[0]}}, [{"text": TEXTS[0]}], {}):
        refused = reviewing.api("POST", "/api/tickets/batch", json=body)
        assert refused.status_code == 400, body
    no_token = reviewing.client.post(
        reviewing.url + "/api/tickets/batch", json={"tickets": [{"text": TEXTS[0]}]}
    )
    assert no_token.status_code == 401
    assert stored(factory) == 0
    exactly = [{"text": TEXTS[i % 3], "external_id": str(i)} for i in range(MAX_TICKETS)]
    accepted = reviewing.api("POST", "/api/tickets/batch", json={"tickets": exactly})
    assert [r["status"] for r in accepted.json()["results"]] == [201] * MAX_TICKETS
    assert stored(factory) == MAX_TICKETS


def test_two_batches_at_once_with_the_same_tickets_create_each_once(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    tickets = [{"text": TEXTS[i % 3], "source": "hd", "external_id": f"c{i}"} for i in range(20)]
    answers: list[Any] = [None, None]
    start = threading.Barrier(2)

    def send(slot: int) -> None:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            start.wait()
            answers[slot] = client.post(
                reviewing.url + "/api/tickets/batch",
                json={"tickets": tickets},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            ).json()["results"]

    threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for i in range(len(tickets)):
        pair = [answers[0][i], answers[1][i]]
        assert sorted(r["status"] for r in pair) == [200, 201]
        assert pair[0]["ticket"]["id"] == pair[1]["ticket"]["id"]
    assert stored(factory) == len(tickets)
    reviewing.fake.wait_until(
        lambda: len(review_posts(reviewing)) >= len(tickets), 15, "a review post per ticket"
    )
    assert len(review_posts(reviewing)) == len(tickets)
