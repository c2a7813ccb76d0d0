"""`triage export`: the labelled data as JSON lines or CSV, streamed in constant memory."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bot.cli.runtime import CountProgress, open_database
from bot.errors import InvalidInput
from bot.services.export import COLUMNS, count_to_export, export_all
from bot.settings import Settings

FORMATS = ("jsonl", "csv")


def register(commands: Any) -> None:
    """Add `export` to the parser."""
    export = commands.add_parser(
        "export",
        help="write every ticket with its label, how it was decided and every answer",
    )
    export.add_argument(
        "--since", type=moment, metavar="DATE", help="only tickets created at or after DATE"
    )
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write to FILE (default: standard output)"
    )
    export.set_defaults(handler=run_export)


def moment(raw: str) -> datetime:
    """An ISO date or date-time; one without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a date (YYYY-MM-DD or an ISO date-time)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """Stream the export; a progress bar on the terminal, one summary line at the end."""
    if args.output is not None and args.output.is_dir():
        raise InvalidInput(f"{args.output} is a directory; name a file to write.")
    with open_database(settings) as (_, factory), factory() as session:
        total = count_to_export(session=session, since=args.since)
        target = (
            nullcontext(sys.stdout)
            if args.output is None
            else args.output.open("w", encoding="utf-8", newline="")
        )
        with target as out, CountProgress("exporting", unit="ticket") as progress:
            show = progress if sys.stderr.isatty() else None
            written = write(
                export_all(session=session, since=args.since), out, args.format, show, total
            )
    if args.output is not None:
        print(f"Exported {written:,} tickets to {args.output}.", file=sys.stderr)
    return 0


def write(records: Any, out: IO[str], fmt: str, progress: CountProgress | None, total: int) -> int:
    """Write each record as it comes; return how many were written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = 0
    for record in records:
        if writer is None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer.writerow({**record, "answers": json.dumps(record["answers"])})
        written += 1
        if progress is not None and (written % 500 == 0 or written == total):
            progress(written, total)
    return written
