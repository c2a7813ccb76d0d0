"""`triage export` and `GET /api/export` (every way a ticket is decided, streamed in bounded
memory), and the retention job (old text removed, old deliveries pruned)."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from jobs.retention import apply_retention
from storage.models import OutboxKind, OutboxMessage, Review, Ticket
from tests.bot.conftest import NOW, Ran, RunningWeb


def seed(factory: sessionmaker[Session]) -> dict[str, int]:
    """One ticket per way of being decided, oldest first; returns their ids by that way."""

    def ticket(text: str, status: str, **fields: object) -> Ticket:
        return Ticket(text=text, status=status, source="api", created_at=NOW, **fields)

    with factory.begin() as session:
        rows = {
            "imported": ticket("old", "imported", final_label="a", decided_by="import"),
            "auto": ticket("sure", "auto", decision="auto", final_label="a", confidence=0.99),
            "review": ticket(
                "asked", "labelled", decision="review", final_label="b", decided_by="UBOB"
            ),
            "audit": ticket(
                "checked", "labelled", decision="audit", final_label="a", decided_by="UAL"
            ),
            "helpdesk": ticket(
                "sent back",
                "labelled",
                decision="review",
                final_label="c",
                decided_by="helpdesk:zd",
            ),
            "pending": ticket("waiting", "pending", decision="review"),
        }
        rows["pending"].created_at = NOW + timedelta(days=2)
        session.add_all(rows.values())
        session.flush()
        session.add_all(
            [
                Review(
                    ticket=rows["review"],
                    slack_user="UAMY",
                    label="a",
                    kind="review",
                    created_at=NOW,
                    undone_at=NOW,
                ),
                Review(
                    ticket=rows["review"],
                    slack_user="UBOB",
                    label="b",
                    kind="review",
                    created_at=NOW,
                ),
            ]
        )
        return {how: row.id for how, row in rows.items()}


def test_export_names_how_each_ticket_was_decided_with_every_answer(
    factory: sessionmaker[Session], cli: Callable[..., Ran]
) -> None:
    ids = seed(factory)
    ran = cli("export")
    assert ran.status == 0, ran.err
    records = [json.loads(line) for line in ran.out.splitlines()]
    assert [r["id"] for r in records] == sorted(ids.values())
    how = {r["id"]: r["decided_how"] for r in records}
    assert how == {
        ids["imported"]: "imported",
        ids["auto"]: "auto",
        ids["review"]: "review",
        ids["audit"]: "audit",
        ids["helpdesk"]: "helpdesk",
        ids["pending"]: None,
    }
    [reviewed] = [r for r in records if r["id"] == ids["review"]]
    assert reviewed["text"] == "asked" and reviewed["label"] == "b"
    assert [
        (a["reviewer"], a["label"], a["undone_at"] is not None) for a in reviewed["answers"]
    ] == [
        ("UAMY", "a", True),
        ("UBOB", "b", False),
    ]

    later = cli(
        "export", "--since", (NOW + timedelta(days=1)).date().isoformat(), "--format", "csv"
    )
    assert later.status == 0, later.err
    [row] = list(csv.DictReader(io.StringIO(later.out)))
    assert row["id"] == str(ids["pending"]) and json.loads(row["answers"]) == []

    bad = cli("export", "--since", "last tuesday")
    assert bad.status == 2 and "'last tuesday' is not a date" in bad.err


def many_tickets(factory: sessionmaker[Session], count: int) -> None:
    rows = [
        {
            "text": f"ticket number {i} " * 20,
            "status": "auto",
            "source": "api",
            "created_at": NOW,
            "final_label": "a",
            "novel": False,
        }
        for i in range(count)
    ]
    with factory.begin() as session:
        session.execute(insert(Ticket), rows)


def peak_export_bytes(cli: Callable[..., Ran], output: Path) -> int:
    tracemalloc.start()
    try:
        ran = cli("export", "--output", str(output))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ran.status == 0, ran.err
    return peak


def test_export_streams_in_bounded_memory(
    factory: sessionmaker[Session], cli: Callable[..., Ran], tmp_path: Path
) -> None:
    many_tickets(factory, 2_000)
    small = peak_export_bytes(cli, tmp_path / "small.jsonl")
    many_tickets(factory, 18_000)
    large = peak_export_bytes(cli, tmp_path / "large.jsonl")
    with (tmp_path / "large.jsonl").open() as handle:
        assert sum(1 for _ in handle) == 20_000
    # Ten times the tickets, about the same memory: a batch at a time, never the whole set.
    assert large < 1.5 * small, (small, large)


def test_the_api_pages_through_the_export_with_a_cursor(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    ids = seed(factory)
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        page = web.api("GET", "/api/export", params=params)
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()["tickets"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids.values())
    assert web.api("GET", "/api/export", params={"cursor": "x"}).status_code == 422
    assert web.api("GET", "/api/export", params={"since": "soon"}).status_code == 422
    assert web.api("GET", "/api/export", params={"limit": "5000"}).status_code == 422
    assert web.client.get(web.url + "/api/export").status_code == 401


def test_retention_removes_old_text_and_prunes_old_deliveries(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    now = NOW + timedelta(days=40)
    with factory.begin() as session:
        old = Ticket(
            text="old secret",
            subject="s",
            extra={"k": 1},
            status="labelled",
            source="api",
            created_at=NOW,
            final_label="a",
            decided_by="UBOB",
        )
        new = Ticket(text="new", status="pending", source="api", created_at=now - timedelta(days=1))
        session.add_all([old, new])
        session.flush()
        delivered = {"created_at": NOW, "due_at": NOW, "delivered_at": NOW, "attempts": 1}
        session.add_all(
            [
                OutboxMessage(
                    kind=OutboxKind.POST_TICKET, ticket_id=old.id, payload={}, **delivered
                ),
                OutboxMessage(kind=OutboxKind.ROUTE, ticket_id=new.id, payload={}, **delivered),
                OutboxMessage(
                    kind=OutboxKind.POST_TICKET,
                    ticket_id=new.id,
                    payload={},
                    created_at=now,
                    due_at=now,
                    attempts=0,
                ),
            ]
        )
        old_id, new_id = old.id, new.id

    kept = apply_retention(factory, settings=settings, now=now)
    assert (kept.erased, kept.pruned) == (0, 1)  # no retention period: text stays

    run = apply_retention(factory, settings=settings.with_overrides(retention_days=30), now=now)
    assert (run.erased, run.pruned) == (1, 0)
    with factory() as session:
        erased, fresh = session.get(Ticket, old_id), session.get(Ticket, new_id)
        assert erased is not None and fresh is not None
        assert (erased.text, erased.subject, erased.extra, erased.final_label) == (
            "",
            None,
            None,
            "a",
        )
        assert erased.erased_at == now and fresh.text == "new" and fresh.erased_at is None
        left = sorted(session.scalars(select(OutboxMessage.kind)))
    # The route post of the kept ticket stays (an erasure would edit it); the unsent one too.
    assert left == [OutboxKind.POST_TICKET, OutboxKind.ROUTE]
