"""`triage callbacks retry [TICKET|all]`: send given-up helpdesk callbacks again from a shell,
through the service `/triage callbacks retry` runs."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.operator import operator_options, run_change
from bot.listeners.commands import parsing
from bot.services.dead_letters import retry_callbacks
from bot.settings import Settings


def register(commands: Any) -> None:
    """Add `callbacks retry` to the parser; it takes `--as NAME` like every change."""
    callbacks = commands.add_parser("callbacks", help="helpdesk callbacks given up on")
    actions = callbacks.add_subparsers(dest="action", required=True, metavar="ACTION")
    retry = actions.add_parser(
        "retry",
        help="queue given-up callbacks again, their attempts counted afresh",
        parents=[operator_options()],
    )
    retry.add_argument(
        "ticket", nargs="?", default="all", metavar="TICKET|all", help="one ticket (default all)"
    )
    retry.set_defaults(handler=retry_command)


def retry_command(args: argparse.Namespace, settings: Settings) -> int:
    """Audited and announced like the slash command; the web or worker process sends them."""
    return run_change(args, settings, retry_callbacks, parsing.ticket(args.ticket))
