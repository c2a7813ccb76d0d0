"""Property-based fuzzing of the live API from bot/api/openapi.json (Schemathesis), and
of its JSON bodies with what Schemathesis never generates (Hypothesis).

Every described operation is sent cases generated from its description, valid ones and
invalid ones, against the real server on the test database (PostgreSQL too when
TEST_DATABASE_URL is set). Each answer must be no 5xx, a described status with the described
content type, headers and body, and a refused request must leave every stored ticket as it
was. Schemathesis draws text without lone surrogates and JSON without NaN or deep nesting,
the very inputs that once broke the API, so a second test sends those. The number of cases
is bounded so both fit CI.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.api.openapi import openapi_document
from storage.models import Review, Ticket
from storage.queries.labels import ensure_labels
from tests.bot.conftest import API_TOKEN, NOW, RunningWeb
from tests.bot.openapi_check import assert_conforms

LIST = "/api/tickets"
LABEL = "/api/tickets/{ticket_id}/label"

CASES_PER_MODE = 40  # per operation and mode: about 650 requests
HOSTILE_CASES = 300  # hostile JSON bodies, split between the two operations that read one
SEEDED = 6
HEALTH = {"/healthz", "/readyz"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def fuzzing_description(routed: set[tuple[str, str]]) -> dict[str, Any]:
    """The shipped description, with ticket ids narrowed to the seeded tickets and a few
    beyond (random ids would almost never name a ticket), and only the routed operations."""
    spec = copy.deepcopy(openapi_document())
    for path, item in list(spec["paths"].items()):
        for method in [m for m in item if m != "parameters"]:
            if (path, method) not in routed:
                del item[method]
        for parameter in item.get("parameters", []):
            if parameter["name"] == "ticket_id":
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": SEEDED + 2}
        if not [m for m in item if m != "parameters"]:
            del spec["paths"][path]
    return spec


def seed(factory: sessionmaker[Session]) -> None:
    """Labels to answer with, and tickets in every state for the ids the cases name."""
    states: list[dict[str, Any]] = [
        {"status": "pending", "decision": "review"},
        {"status": "pending", "decision": "review", "subject": "Card", "extra": {"k": [1]}},
        {"status": "auto", "decision": "audit", "final_label": "refund"},
        {"status": "auto", "decision": "auto", "final_label": "refund"},
        {"status": "labelled", "decision": "review", "final_label": "refund", "decided_by": "U1"},
        {"status": "pending", "decision": "review", "source": "zendesk", "external_id": "z-1"},
    ]
    with factory.begin() as session:
        ensure_labels(["card_arrival", "refund"], session=session, now=NOW)
        for i, state in enumerate(states):
            session.add(Ticket(text=f"ticket {i}", created_at=NOW, **state))


# Written by the outbox deliverer running beside the requests once Slack took the post.
DELIVERY_COLUMNS = {"slack_channel", "slack_ts"}


def stored(factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every ticket column a request could write and every answer, to compare before and
    after a request."""
    columns = [c.key for c in Ticket.__mapper__.column_attrs if c.key not in DELIVERY_COLUMNS]
    with factory() as session:
        tickets = [
            tuple(getattr(t, column) for column in columns)
            for t in session.scalars(select(Ticket).order_by(Ticket.id))
        ]
        answers = [
            (r.id, r.ticket_id, r.slack_user, r.label, r.undone_at)
            for r in session.scalars(select(Review).order_by(Review.id))
        ]
    return [*tickets, *answers]


def routed_operations(web: RunningWeb) -> set[tuple[str, str]]:
    return {
        (route.path, method.lower())
        for route in web.process.app.routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }


def test_fuzzing_the_api_finds_no_5xx_no_undescribed_answer_and_no_change_on_refusal(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    seed(factory)
    schema = schemathesis.openapi.from_dict(fuzzing_description(routed_operations(web)))
    session = requests.Session()
    session.trust_env = False  # straight to 127.0.0.1, whatever proxy the machine sets
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    sent: dict[str, int] = {}

    def run(case: schemathesis.Case) -> None:
        before = stored(factory)
        response = case.call(base_url=web.url, session=session, headers=auth, timeout=30)
        health = case.operation.path in HEALTH  # their 503 is an answer: "not healthy"
        case.validate_response(response, checks=CHECKS[1:] if health else CHECKS)
        if response.status_code >= 400:
            assert stored(factory) == before, f"{case.method} {case.formatted_path} changed"
        key = f"{case.method} {case.operation.path}"
        sent[key] = sent.get(key, 0) + 1

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz = settings(
                max_examples=CASES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,  # the same cases every run, so CI is reproducible
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(given(case=operation.as_strategy(generation_mode=mode))(run))
            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid: no parameter, no body
                assert mode == GenerationMode.NEGATIVE, operation.label
    assert {key.split(" ", 1)[1] for key in sent} >= {"/api/tickets", "/api/tickets/{ticket_id}"}
    print(f"fuzzed {sum(sent.values())} requests over {len(operations)} operations: {sent}")


def hostile_text() -> st.SearchStrategy[str]:
    """Any code point, with lone surrogates and NUL drawn often (Hypothesis rarely draws a
    surrogate on its own)."""
    special = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00", "\u2028", "\ufeff"])
    # Joined from a list: `st.text` quietly drops surrogates from any alphabet.
    characters = st.characters(exclude_categories=()) | special
    return st.lists(characters, max_size=30).map("".join)


def hostile_json() -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()  # NaN and infinities, written as the non-JSON tokens
        | st.integers(min_value=10**300, max_value=10**400)  # past a float's range
        | hostile_text()
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(hostile_text(), inner, max_size=3)
        ),
        max_leaves=12,
    )


def hostile_body() -> st.SearchStrategy[bytes]:
    """A ticket or label body with one field holding anything, or any JSON, or deep nesting,
    or numbers out of range, or bytes that are not JSON at all."""
    valid = {"text": "Where is my card?", "label": "refund", "actor": "ann"}
    one_bad_field = st.tuples(  # a valid body but for one field, so the bad value gets far
        st.sampled_from([*valid, "source", "external_id", "subject", "callback_url", "metadata"]),
        hostile_text() | hostile_json(),
    ).map(lambda item: {**valid, item[0]: item[1]})
    metadata = st.dictionaries(hostile_text(), hostile_json()).map(
        lambda value: {**valid, "metadata": value}
    )
    fields = one_bad_field | metadata
    nested = st.integers(min_value=30, max_value=5_000).map(
        lambda depth: '{"text": "x", "metadata": ' + "[" * depth + "]" * depth + "}"
    )
    digits = st.integers(min_value=300, max_value=6_000).map(  # past Python's 4,300 digits
        lambda count: '{"text": "x", "metadata": {"n": ' + "9" * count + "}}"
    )
    as_json = (fields | hostile_json()).map(lambda value: json.dumps(value, allow_nan=True))
    return (as_json | nested | digits).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    ) | st.binary(max_size=64)


def test_hostile_json_bodies_are_refused_with_a_described_problem_and_change_nothing(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    seed(factory)
    auth = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}

    @settings(
        max_examples=HOSTILE_CASES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(body=hostile_body(), ticket_id=st.none() | st.integers(min_value=1, max_value=SEEDED))
    def send(body: bytes, ticket_id: int | None) -> None:
        path = LIST if ticket_id is None else f"/api/tickets/{ticket_id}/label"
        before = stored(factory)
        response = web.client.post(web.url + path, content=body, headers=auth)
        assert response.status_code < 500, (body[:200], response.text)
        assert_conforms(response, LIST if ticket_id is None else LABEL)
        if response.status_code >= 400:
            assert stored(factory) == before, body[:200]
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    send()
    assert {400, 422} <= set(statuses)
    print(
        f"hostile bodies: {sum(statuses.values())} requests, by status {sorted(statuses.items())}"
    )
