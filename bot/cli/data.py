"""`triage db upgrade` and `triage import`: the schema and the labelled history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.runtime import CountProgress, open_database
from bot.clock import utc_now
from bot.services.importing import ImportSummary, import_labelled_csv
from bot.settings import Settings
from storage.database import describe_url, unit_of_work
from storage.migrate import current_revision, upgrade


def register(commands: Any) -> None:
    """Add `db` and `import` to the parser."""
    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(handler=db_upgrade)

    imp = commands.add_parser("import", help="import labelled history from a CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--text-column", default="text")
    imp.add_argument("--label-column", default="label")
    imp.set_defaults(handler=import_csv)


def db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    """Bring the schema to the newest migration (safe to run on every release)."""
    with open_database(settings, check_schema=False) as (engine, _):
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
        where = describe_url(engine)
    if before == after:
        print(f"{where} is up to date (migration {after}).")
    else:
        print(f"{where} upgraded from {before or 'empty'} to migration {after}.")
    return 0


def import_csv(args: argparse.Namespace, settings: Settings) -> int:
    """Import a labelled CSV in one transaction and print what was skipped and why."""
    with (
        open_database(settings) as (_, factory),
        unit_of_work(factory) as session,
        CountProgress("importing", unit="row") as progress,
    ):
        summary = import_labelled_csv(
            args.file,
            session=session,
            now=utc_now(),
            text_column=args.text_column,
            label_column=args.label_column,
            progress=progress,
        )
    print_summary(summary)
    return 0


def print_summary(summary: ImportSummary) -> None:
    """One line of totals, then one line per skip reason."""
    print(
        f"Imported {summary.imported:,} of {summary.rows:,} rows"
        f" ({len(summary.new_labels)} new labels)."
    )
    for reason, count in sorted(summary.skipped.items(), key=lambda item: -item[1]):
        print(f"  skipped {count:,}: {reason}")
