"""Import labelled history from CSV: read and check everything first, then write in one go.

Reading the whole file before writing is what keeps a malformed file from leaving half an
import behind: either every good row lands in one transaction, or nothing changes.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.services.ticket_text import MAX_LABEL_LENGTH, TextProblem, clean_ticket_text
from storage.models import Ticket, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.tickets import existing_external_ids

IMPORT_SOURCE = "import"
IMPORT_ACTOR = "import"

# Called with (rows written so far, rows to write) after each batch.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LabelledRow:
    """One usable row: cleaned text, its label, and the key that spots duplicates."""

    text: str
    label: str
    key: str


@dataclass(frozen=True)
class ImportSummary:
    """What an import did, for the one-screen summary the CLI prints."""

    rows: int
    imported: int
    skipped: dict[str, int] = field(default_factory=dict)
    new_labels: list[str] = field(default_factory=list)


def duplicate_key(text: str) -> str:
    """Same words, any case or spacing: the same ticket."""
    normalized = " ".join(text.casefold().split())
    return "sha256:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def read_labelled_csv(
    path: Path, *, text_column: str, label_column: str
) -> tuple[list[LabelledRow], Counter[str], int]:
    """Parse and validate the file; return usable rows, skip reasons, and the row count."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, strict=True)
            columns = reader.fieldnames or []
            missing = [name for name in (text_column, label_column) if name not in columns]
            if not columns:
                raise InvalidInput(
                    f"{path} is empty: expected a header row with '{text_column}' "
                    f"and '{label_column}'"
                )
            if missing:
                found = ", ".join(repr(c) for c in columns)
                raise InvalidInput(
                    f"{path} has no column {' or '.join(repr(m) for m in missing)} "
                    f"(found {found}); name them with --text-column / --label-column"
                )
            rows, skipped, seen, total = [], Counter[str](), set[str](), 0
            for total, record in enumerate(reader, start=1):  # noqa: B007 - total is the count
                if None in record:
                    raise InvalidInput(
                        f"{path}, line {reader.line_num}: more fields than the header has"
                    )
                row, problem = _check_row(record.get(text_column), record.get(label_column))
                if problem is not None:
                    skipped[problem] += 1
                elif row.key in seen:
                    skipped["duplicate in the file"] += 1
                else:
                    seen.add(row.key)
                    rows.append(row)
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a CSV file") from None
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {error.start})") from None
    except csv.Error as error:
        raise InvalidInput(f"{path} is not valid CSV: {error}") from None
    return rows, skipped, total


def _check_row(raw_text: str | None, raw_label: str | None) -> tuple[LabelledRow, str | None]:
    label = (raw_label or "").strip()
    try:
        text = clean_ticket_text(raw_text or "")
    except TextProblem as problem:
        return LabelledRow("", label, ""), problem.reason
    if not label:
        return LabelledRow(text, "", ""), "no label"
    if len(label) > MAX_LABEL_LENGTH:
        return LabelledRow(text, label, ""), f"label longer than {MAX_LABEL_LENGTH} characters"
    return LabelledRow(text, label, duplicate_key(text)), None


def import_labelled_rows(
    rows: list[LabelledRow],
    *,
    session: Session,
    now: datetime,
    progress: Progress | None = None,
) -> tuple[int, int, list[str]]:
    """Add rows not already imported; return (imported, already present, new label names)."""
    present = existing_external_ids(IMPORT_SOURCE, (row.key for row in rows), session=session)
    fresh = [row for row in rows if row.key not in present]
    new_labels = ensure_labels({row.label for row in fresh}, session=session, now=now)
    if progress is not None:
        progress(0, len(fresh))
    for start in range(0, len(fresh), 1000):
        batch = fresh[start : start + 1000]
        session.add_all(
            Ticket(
                text=row.text,
                source=IMPORT_SOURCE,
                external_id=row.key,
                created_at=now,
                status=TicketStatus.IMPORTED,
                final_label=row.label,
                decided_by=IMPORT_ACTOR,
                decided_at=now,
            )
            for row in batch
        )
        session.flush()
        if progress is not None:
            progress(start + len(batch), len(fresh))
    return len(fresh), len(rows) - len(fresh), new_labels


def import_labelled_csv(
    path: Path,
    *,
    session: Session,
    now: datetime,
    text_column: str = "text",
    label_column: str = "label",
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a labelled CSV file; the caller commits (or not) the session."""
    rows, skipped, total = read_labelled_csv(
        path, text_column=text_column, label_column=label_column
    )
    imported, present, new_labels = import_labelled_rows(
        rows, session=session, now=now, progress=progress
    )
    if present:
        skipped["already in the database"] += present
    return ImportSummary(total, imported, dict(skipped), new_labels)
