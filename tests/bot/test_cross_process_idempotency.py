"""Resends of the same external ids landing on different web processes at the same moment
(WEB_CONCURRENCY=2, PostgreSQL): one ticket per (source, external_id), one review message per
ticket, and every request answered 200 or 201. Only the database can make that hold, since
the processes share nothing else; SQLite allows one web host, so this runs on PostgreSQL."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from storage.models import OutboxMessage, Ticket
from tests.bot.conftest import API_TOKEN, REVIEW_CHANNEL, web_settings
from tests.bot.web_processes import serve_processes

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="several web hosts need PostgreSQL"
)

EXTERNAL_IDS = 40
RESENDS = 6  # copies of each ticket, sent together
SOURCES = ("zendesk", "freshdesk")


def post(url: str, source: str, external_id: str) -> tuple[int, int | None]:
    """One ticket on a connection of its own, so the kernel may hand it to either process."""
    body = {"text": "My card has not arrived yet", "source": source, "external_id": external_id}
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Connection": "close"}
    with httpx.Client(trust_env=False, timeout=60) as client:
        response = client.post(url + "/api/tickets", json=body, headers=headers)
    ticket_id = response.json().get("id") if response.status_code in (200, 201) else None
    return response.status_code, ticket_id


def undelivered(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        pending = OutboxMessage.delivered_at.is_(None)
        return int(session.scalar(select(func.count()).where(pending)) or 0)


def test_concurrent_resends_on_two_processes_make_one_ticket_and_one_review_each(
    database_url: str,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    tmp_path: Path,
) -> None:
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    # Every copy of a ticket is in flight at once, and neighbouring tickets are shuffled
    # together so that two processes' batches hold the same keys in different orders.
    sends = [(s, f"ext-{n}") for n in range(EXTERNAL_IDS) for s in SOURCES for _ in range(RESENDS)]
    window = 4 * RESENDS
    shuffler = random.Random(16)
    for start in range(0, len(sends), window):
        part = sends[start : start + window]
        shuffler.shuffle(part)
        sends[start : start + window] = part
    with serve_processes(settings, tmp_path / "run") as serve:
        serve.wait_until_each_served(2)
        with ThreadPoolExecutor(max_workers=window) as pool:
            answers = list(pool.map(lambda key: post(serve.url, *key), sends))
        assert len(serve.pids_that_served()) >= 2

        assert {status for status, _ in answers} <= {200, 201}, sorted(answers)
        created: dict[tuple[str, str], int] = defaultdict(int)
        ids: dict[tuple[str, str], set[int | None]] = defaultdict(set)
        for key, (status, ticket_id) in zip(sends, answers, strict=True):
            created[key] += status == 201
            ids[key].add(ticket_id)
        assert set(created.values()) == {1}  # exactly one 201 per key, the rest 200
        assert all(len(found) == 1 for found in ids.values())  # all with the same ticket

        with factory() as session:
            stored = session.execute(select(Ticket.source, Ticket.external_id, Ticket.id)).all()
        assert sorted((s, e) for s, e, _ in stored) == sorted(ids)
        assert {i for _, _, i in stored} == {i for found in ids.values() for i in found}

        wait_until(lambda: undelivered(factory) == 0, timeout=120, what="every post delivered")
    posts = [
        call.response["ts"]
        for call in fake_slack.calls_to("chat.postMessage")
        if call.ok and call.params["channel"] == REVIEW_CHANNEL and "thread_ts" not in call.params
    ]
    with factory() as session:
        recorded = list(session.scalars(select(Ticket.slack_ts)))
    assert len(posts) == len(stored) == len(set(posts))  # one review message per ticket
    assert sorted(posts) == sorted(recorded)
