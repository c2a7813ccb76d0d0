"""Admin changes from the command line: who makes them (`--as`), one unit of work each, and
the plain confirmation. The CLI's counterpart of `bot/listeners/admin_changes.py`."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from bot.blocks.plain import change_text
from bot.cli.runtime import open_database
from bot.clock import utc_now
from bot.errors import InvalidInput
from bot.services.actors import command_line_actor
from bot.services.admin import AdminChange
from bot.settings import Settings
from storage.database import unit_of_work

Change = Callable[..., AdminChange]


def operator_options() -> argparse.ArgumentParser:
    """The `--as NAME` option every changing command takes (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--as",
        dest="operator",
        metavar="NAME",
        help="who makes the change, for the audit log (recorded as cli:NAME; "
        "default: your user name on this machine)",
    )
    return parent


def actor(args: argparse.Namespace) -> str:
    """`cli:NAME` for `--as NAME`, else for the user running the command."""
    if args.operator is not None:
        return command_line_actor(args.operator)
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no password entry (some containers)
        raise InvalidInput(
            "Could not tell who you are from this machine; name yourself with --as NAME."
        ) from None
    return command_line_actor(user)


def run_change(args: argparse.Namespace, settings: Settings, change: Change, *values: Any) -> int:
    """Run one admin service as the slash command does (audited, announced through the
    outbox, which posts once Slack answers) and print its confirmation."""
    who = actor(args)
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        result = change(*values, session=session, settings=settings, actor=who, now=utc_now())
    print(change_text(result, alerts_channel=settings.alerts_channel))
    return 0
