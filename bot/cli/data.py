"""`triage db` (upgrade, current, history, downgrade) and `triage import`: schema and history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.runtime import CountProgress, open_database
from bot.clock import utc_now
from bot.errors import InvalidInput
from bot.services.importing import ImportSummary, import_labelled_csv
from bot.settings import Settings
from storage.database import describe_url, unit_of_work
from storage.migrate import (
    current_revision,
    downgrade,
    head_revision,
    history,
    known_revision,
    upgrade,
)


def register(commands: Any) -> None:
    """Add `db` and `import` to the parser."""
    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(handler=db_upgrade)
    db_commands.add_parser("current", help="the migration the database is at").set_defaults(
        handler=db_current
    )
    db_commands.add_parser("history", help="every migration, newest first").set_defaults(
        handler=db_history
    )
    down = db_commands.add_parser(
        "downgrade", help="undo migrations down to REVISION (before running older code)"
    )
    down.add_argument("revision", help="a revision from `triage db history`, or -1 for one step")
    down.set_defaults(handler=db_downgrade)

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


def db_current(_args: argparse.Namespace, settings: Settings) -> int:
    """Say which migration the database is at and whether this code can run on it."""
    with open_database(settings, check_schema=False) as (engine, _):
        current, where = current_revision(engine), describe_url(engine)
    head = head_revision()
    if current is None:
        print(f"{where} has no schema yet; `triage db upgrade` creates it (migration {head}).")
    elif current == head:
        print(f"{where} is at migration {current}, the newest this code knows.")
    else:
        print(f"{where} is at migration {current}; this code needs {head}: `triage db upgrade`.")
    return 0


def db_history(_args: argparse.Namespace, settings: Settings) -> int:
    """Every migration, newest first, with the database's own marked."""
    with open_database(settings, check_schema=False) as (engine, _):
        current = current_revision(engine)
    for revision, _, description in history():
        marker = "  <- the database" if revision == current else ""
        print(f"{revision}  {description.splitlines()[0] if description else ''}{marker}")
    return 0


def db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Undo migrations, e.g. before rolling back to an older release of the code."""
    target = args.revision
    if target != "-1" and not known_revision(target):
        raise InvalidInput(f"No migration {target}; `triage db history` lists them.")
    with open_database(settings, check_schema=False) as (engine, _):
        before = current_revision(engine)
        if before is None:
            raise InvalidInput("The database has no schema; there is nothing to downgrade.")
        downgrade(engine, target)
        after = current_revision(engine)
        where = describe_url(engine)
    print(f"{where} downgraded from migration {before} to {after or 'empty'}.")
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
