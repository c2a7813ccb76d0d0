"""CSV import: everything good lands once, every skip has a reason, bad files change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.services.importing import import_labelled_csv
from storage.models import Label, Ticket, TicketStatus
from storage.queries.tickets import labelled_examples
from tests.conftest import SAMPLE_TRAIN

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def run_import(factory: sessionmaker[Session], path: Path, **columns: str):  # noqa: ANN201
    with factory.begin() as session:
        return import_labelled_csv(path, session=session, now=NOW, **columns)


def ticket_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def test_sample_imports_once_then_skips_as_duplicates(factory: sessionmaker[Session]) -> None:
    calls: list[tuple[int, int]] = []
    with factory.begin() as session:
        first = import_labelled_csv(
            SAMPLE_TRAIN, session=session, now=NOW, progress=lambda d, t: calls.append((d, t))
        )
    assert first.rows == 1848 and first.imported == 1848
    assert len(first.new_labels) == 77
    assert calls[0] == (0, 1848) and calls[-1] == (1848, 1848)
    second = run_import(factory, SAMPLE_TRAIN)
    assert second.imported == 0
    assert second.skipped == {"already in the database": 1848}
    assert ticket_count(factory) == 1848
    with factory() as session:
        examples = labelled_examples(session=session)
        assert len(examples) == 1848
        assert session.scalar(select(func.count()).select_from(Label)) == 77
        statuses = set(session.scalars(select(Ticket.status)))
    assert statuses == {TicketStatus.IMPORTED}


def test_each_skipped_row_is_counted_with_its_reason(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "history.csv"
    long_text = "x" * 20_001
    path.write_text(
        "body,intent\n"
        "My card has not arrived,card_arrival\n"
        "  my CARD has   not arrived ,card_arrival\n"
        ",card_arrival\n"
        "Where is my money,\n"
        f"{long_text},card_arrival\n"
        "Has a NUL \x00 inside,card_arrival\n"
        "How do I top up?,top_up\n",
        encoding="utf-8",
    )
    summary = run_import(factory, path, text_column="body", label_column="intent")
    assert summary.rows == 7
    assert summary.imported == 2
    assert summary.skipped == {
        "duplicate in the file": 1,
        "empty text": 1,
        "no label": 1,
        "text longer than 20,000 characters": 1,
        "text contains a NUL character": 1,
    }
    assert sorted(summary.new_labels) == ["card_arrival", "top_up"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text,category\nhello,card_arrival\n", "no column 'label'"),
        (b"", "is empty"),
        (b"text,label\nhello,card_arrival\n\xff\xfe broken,top_up\n", "not UTF-8"),
        (b"text,label\nhello,card_arrival\nhello,top_up,extra\n", "more fields than the header"),
        (b'text,label\n"unterminated,card_arrival\n', "not valid CSV"),
    ],
)
def test_malformed_file_is_refused_and_changes_nothing(
    factory: sessionmaker[Session], tmp_path: Path, content: bytes, message: str
) -> None:
    run_import(factory, SAMPLE_TRAIN)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        run_import(factory, path)
    assert ticket_count(factory) == 1848


def test_missing_file_is_a_clear_error(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        run_import(factory, tmp_path / "nope.csv")
