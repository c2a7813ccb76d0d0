"""Signed requests to /slack/events whose body is not what Slack sends are answered 4xx.

Slack retries any 5xx, so a payload our listeners cannot read must be refused as the
client's mistake, with a reason in the log, and never reach a listener half-understood.
The bodies are derived deterministically from the payloads Slack really sends (a review
click, a modal submission, an options request, a slash command, an intake message, App
Home opening, the URL handshake): keys removed, values swapped for the wrong type, odd
Unicode, whole bodies replaced by JSON that is not an object, or by bytes that are not JSON.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack.signing import (
    block_action_payload,
    interaction_user,
    sign,
    slash_command_fields,
)
from storage.models import Review, Ticket
from tests.bot.conftest import INTAKE_CHANNEL, REVIEW_CHANNEL, RunningWeb
from tests.bot.steps import click, click_fields, post_ticket, review_message
from tests.slack_fixtures import SIGNING_SECRET

REQUESTS = 1_200
FORM = "application/x-www-form-urlencoded"
ODD_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "\ud800",  # a lone surrogate: valid JSON text, not a valid Python str to encode
    "x" * 5_000,
    [],
    [1, "a"],
    {},
    {"id": None},
)
NOT_OBJECTS: tuple[Any, ...] = (None, 1, "payload", [], [{}], [[[[[[[[]]]]]]]], True)
RAW_BODIES: tuple[bytes, ...] = (
    b"",
    b"\xff\xfe\x00",
    b"{",
    b"payload=",
    b"payload=%7B",
    b"payload=%FF",
    b"payload=null",
    b"payload=%5B%5D",
    b"command=&text=",
    b'{"type": "event_callback", "event": "not an object"}',
    b'{"type": "event_callback", "event": {"type": 5}}',
    b'{"type": "url_verification"}',
    b'{"type": "url_verification", "challenge": {"x": 1}}',
)


def templates(web: RunningWeb, message: dict[str, Any]) -> list[tuple[str, Any]]:
    """The real request shapes the app answers, as (kind, payload) pairs."""
    action_id = first_action(message)
    review_click = block_action_payload(**click_fields(web, message, action_id, user="UAGENT"))
    submission = {
        "type": "view_submission",
        "user": interaction_user("UADMIN", None, "T0001"),
        "team": {"id": "T0001", "domain": "fake"},
        "view": {
            "id": "V1",
            "callback_id": "label_rename",
            "private_metadata": "",
            "state": {"values": {"b": {"a": {"type": "plain_text_input", "value": "x"}}}},
        },
    }
    suggestion = {
        "type": "block_suggestion",
        "user": interaction_user("UAGENT", None, "T0001"),
        "team": {"id": "T0001", "domain": "fake"},
        "action_id": "review_search",
        "block_id": "b",
        "value": "card",
    }
    command = slash_command_fields(
        text="stats", user_id="UADMIN", response_url="http://127.0.0.1:9/none"
    )
    intake = {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event_id": "Ev1",
        "event": {
            "type": "message",
            "channel": INTAKE_CHANNEL,
            "user": "UCUSTOMER",
            "text": "my card was declined",
            "ts": "1700000000.000100",
        },
    }
    home = {
        "type": "event_callback",
        "team_id": "T0001",
        "event_id": "Ev2",
        "event": {"type": "app_home_opened", "user": "UADMIN", "tab": "home"},
    }
    handshake = {"type": "url_verification", "challenge": "c", "token": "t"}
    return [
        ("interaction", review_click),
        ("interaction", submission),
        ("interaction", suggestion),
        ("command", command),
        ("event", intake),
        ("event", home),
        ("event", handshake),
    ]


def first_action(message: dict[str, Any]) -> str:
    """The first button or menu on the review message: what a person would click."""
    for block in message["blocks"]:
        for item in block.get("elements", []) + [block.get("accessory") or {}]:
            if isinstance(item, dict) and "action_id" in item:
                return str(item["action_id"])
    raise AssertionError("the review message has nothing to click")


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from paths(inner, (*prefix, index))


def mutate(payload: Any, rng: random.Random) -> Any:
    """One hostile variant: a key removed or a value swapped, once or a few times."""
    payload = copy.deepcopy(payload)
    for _ in range(rng.choice((1, 1, 2, 3))):
        where = list(paths(payload))
        if not where:
            return rng.choice(NOT_OBJECTS)
        path = rng.choice(where)
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if rng.random() < 0.3 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return payload


def encode(kind: str, payload: Any) -> tuple[bytes, str]:
    """The body and content type Slack would use for a request of `kind`."""
    text = json.dumps(payload)  # lone surrogates stay as \\ud800 escapes, as a client may send
    if kind == "event":
        return text.encode(), "application/json"
    if kind == "interaction":
        return urlencode({"payload": text}).encode(), FORM
    fields = payload if isinstance(payload, dict) else {"command": payload}
    form = {
        str(key): json.dumps(value) if not isinstance(value, str) else value
        for key, value in fields.items()
    }
    # A lone surrogate in a form field goes out as the bytes a careless client would send.
    return urlencode(form, errors="surrogatepass").encode("utf-8", "surrogatepass"), FORM


def hostile_bodies(
    shapes: list[tuple[str, Any]], rng: random.Random, count: int
) -> Iterator[tuple[bytes, str]]:
    """`count` signed-request bodies, most derived from real shapes, some not JSON at all."""
    for index in range(count):
        if index % 10 == 0:
            body = rng.choice(RAW_BODIES)
            yield body, "application/json" if body.startswith(b"{") else FORM
        elif index % 10 == 1:
            kind, _ = rng.choice(shapes)
            yield encode(kind, rng.choice(NOT_OBJECTS))
        else:
            kind, payload = rng.choice(shapes)
            yield encode(kind, mutate(payload, rng))


def stored(session: Session) -> dict[int, str]:
    return {row.id: row.text for row in session.execute(select(Ticket.id, Ticket.text))}


def posted_review(
    web: RunningWeb, factory: sessionmaker[Session], ticket: dict[str, Any]
) -> dict[str, Any]:
    """The review message of one ticket, whatever else the storm posted meanwhile."""

    def ts() -> str | None:
        with factory() as session:
            return session.scalar(select(Ticket.slack_ts).where(Ticket.id == ticket["id"]))

    posted = web.fake.wait_until(ts, what="the new ticket's review message")
    return next(m for m in web.fake.messages(REVIEW_CHANNEL) if m["ts"] == posted)


def send(web: RunningWeb, body: bytes, content_type: str) -> int:
    headers = {"Content-Type": content_type, **sign(SIGNING_SECRET, body, int(time.time()))}
    return web.client.post(web.url + "/slack/events", content=body, headers=headers).status_code


@pytest.mark.slow
def test_signed_bodies_slack_never_sends_are_refused_with_4xx(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    post_ticket(reviewing, external_id="hostile-1")
    message = review_message(reviewing)
    shapes = templates(reviewing, message)
    with factory() as session:
        before = stored(session)

    statuses: dict[int, int] = {}
    server_errors: list[bytes] = []
    for body, content_type in hostile_bodies(shapes, random.Random(20261203), REQUESTS):
        status = send(reviewing, body, content_type)
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            server_errors.append(body[:300])

    assert not server_errors, f"{len(server_errors)} answered 5xx, e.g. {server_errors[:3]}"
    assert sum(count for status, count in statuses.items() if 400 <= status < 500) > REQUESTS / 2
    with factory() as session:
        after = stored(session)
    # A mutated intake message or click may still be a good one (a ticket, an answer), but
    # nothing stored before the storm was lost.
    assert {key: after[key] for key in before} == before

    # The app still answers a real click afterwards.
    with factory() as session:
        answers = session.scalar(select(func.count()).select_from(Review))
    fresh = posted_review(reviewing, factory, post_ticket(reviewing, external_id="hostile-2"))
    status, _ = click(reviewing, SIGNING_SECRET, fresh, first_action(fresh), user="UAGENT")
    assert status == 200

    def answered() -> bool:  # Bolt acknowledges first, then the listener stores the answer
        with factory() as session:
            return session.scalar(select(func.count()).select_from(Review)) == (answers or 0) + 1

    reviewing.fake.wait_until(answered, what="the real click's answer")
