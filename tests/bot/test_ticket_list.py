"""`GET /api/tickets`: filters, cursor pages that neither skip nor repeat, and the lookup by
source and external id, each answer valid against the OpenAPI description."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Ticket
from tests.bot.conftest import NOW, RunningWeb
from tests.bot.openapi_check import assert_conforms

LIST = "/api/tickets"


def seed(factory: sessionmaker[Session]) -> list[int]:
    """Nine tickets a day apart: three sources, each way of being decided."""
    kinds: list[dict[str, Any]] = [
        {"status": "pending", "decision": "review"},
        {"status": "auto", "decision": "auto", "final_label": "card_arrival"},
        {"status": "labelled", "decision": "review", "final_label": "refund", "decided_by": "U1"},
    ]
    with factory.begin() as session:
        rows = [
            Ticket(
                text=f"ticket {i}",
                subject=f"subject {i}",
                source=("zendesk", "jira", "api")[i % 3],
                external_id=f"x-{i}",
                created_at=NOW + timedelta(days=i),
                extra={"tags": [i]},
                **kinds[i // 3],
            )
            for i in range(9)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def listed(web: RunningWeb, **params: Any) -> dict[str, Any]:
    response = web.api("GET", LIST, params=params)
    assert response.status_code == 200, response.text
    return dict(assert_conforms(response, LIST))


def every_page(web: RunningWeb, cursor: str | None = None, **params: Any) -> list[list[int]]:
    pages = []
    while True:
        page = listed(web, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([t["id"] for t in page["tickets"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_pages_cover_every_ticket_once_oldest_first(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    ids = seed(factory)
    assert every_page(web, limit=4) == [ids[:4], ids[4:8], ids[8:]]
    assert every_page(web, limit=3) == [ids[:3], ids[3:6], ids[6:]]  # no empty last page
    first = listed(web, limit=2)
    with factory.begin() as session:  # a ticket arriving between pages appears at the end
        session.add(Ticket(text="late", status="pending", created_at=NOW))
    rest = [i for page in every_page(web, limit=2, cursor=first["next_cursor"]) for i in page]
    assert rest == [*ids[2:], ids[-1] + 1]
    ticket = first["tickets"][0]
    assert (ticket["subject"], ticket["metadata"], ticket["external_id"]) == (
        "subject 0",
        {"tags": [0]},
        "x-0",
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "pending"}, [0, 1, 2]),
        ({"decision": "auto"}, [3, 4, 5]),
        ({"label": "refund"}, [6, 7, 8]),
        ({"source": "jira"}, [1, 4, 7]),
        ({"source": "jira", "status": "auto"}, [4]),
        ({"created_after": (NOW + timedelta(days=7)).isoformat()}, [7, 8]),
        ({"created_before": (NOW + timedelta(days=2)).isoformat()}, [0, 1]),
        ({"created_after": "2026-11-24", "created_before": "2026-11-26T00:00:00"}, [1, 2]),
        ({"source": "zendesk", "external_id": "x-3"}, [3]),
        ({"source": "jira", "external_id": "x-3"}, []),
        ({"external_id": " x-5 "}, [5]),
        ({"label": "nothing"}, []),
    ],
)
def test_filters_combine(
    web: RunningWeb, factory: sessionmaker[Session], params: dict[str, str], expected: list[int]
) -> None:
    ids = seed(factory)
    found = [t["id"] for t in listed(web, **params)["tickets"]]
    assert found == [ids[i] for i in expected]


def test_a_ticket_is_found_by_the_id_its_helpdesk_sent(web: RunningWeb) -> None:
    created = web.api(
        "POST",
        LIST,
        json={
            "text": "Where is my card?",
            "source": "zendesk",
            "external_id": 1042,
            "subject": "Card",
        },
    )
    assert created.status_code == 201
    page = listed(web, source="zendesk", external_id="1042")
    assert page == {"tickets": [created.json()], "next_cursor": None}
    assert page["tickets"][0]["subject"] == "Card"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"decision": "maybe"}, "decision"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-01"}, "created_before"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "MTIz"}, "cursor"),  # base64 of "123": not one this API made
        ({"source": "s" * 101}, "source"),
        ({"stauts": "pending"}, "stauts"),
    ],
)
def test_a_bad_parameter_is_a_problem_naming_it(
    web: RunningWeb, params: dict[str, str], field: str
) -> None:
    response = web.api("GET", LIST, params=params)
    assert response.status_code == 422
    assert assert_conforms(response, LIST)["field"] == field


def test_listing_needs_the_token(web: RunningWeb) -> None:
    response = web.client.get(web.url + LIST)
    assert response.status_code == 401
    assert assert_conforms(response, LIST)["type"] == "urn:triage-loop:problem:unauthorized"
