"""`triage forget`: erase one ticket's text everywhere it is stored, Slack messages included."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.operator import actor, operator_options
from bot.cli.runtime import open_database
from bot.clock import utc_now
from bot.services.erasure import erase_ticket, find_ticket
from bot.settings import Settings
from storage.database import unit_of_work


def register(commands: Any) -> None:
    """Add `forget` to the parser."""
    forget = commands.add_parser(
        "forget",
        help="erase one ticket's text, subject and metadata (labels and answers stay)",
        parents=[operator_options()],
    )
    forget.add_argument("--id", type=int, dest="ticket_id", metavar="N", help="the ticket's id")
    forget.add_argument("--source", metavar="S", help="the helpdesk the ticket came from")
    forget.add_argument("--external-id", metavar="X", help="the helpdesk's id for it")
    forget.set_defaults(handler=run_forget)


def run_forget(args: argparse.Namespace, settings: Settings) -> int:
    """Erase, audited as cli:NAME; the Slack edits go out through the outbox."""
    who = actor(args)
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        ticket = find_ticket(
            session=session,
            ticket_id=args.ticket_id,
            source=args.source,
            external_id=args.external_id,
        )
        erasure = erase_ticket(ticket, session=session, now=utc_now(), actor=who)
    if erasure.already:
        print(
            f"Ticket #{erasure.ticket_id}'s text was already erased ({erasure.erased_at:%Y-%m-%d})."
        )
    else:
        edits = erasure.slack_edits
        print(
            f"Erased ticket #{erasure.ticket_id}'s text, subject and metadata; "
            f"{edits} Slack message{'s' if edits != 1 else ''} will be edited to say so."
        )
    return 0
