"""`triage models` and `triage stats`: what admins read before they steer, as the slash
commands show it, in plain text or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from bot.blocks.plain import models_text, stats_text
from bot.cli.output import json_options, show
from bot.cli.runtime import open_database
from bot.clock import utc_now
from bot.listeners.commands import parsing
from bot.services.admin_models import recent_models
from bot.services.stats import gate_summary, service_stats
from bot.settings import Settings
from storage.database import unit_of_work


def register(commands: Any) -> None:
    """Add `models` and `stats` to the parser."""
    machine = json_options()
    commands.add_parser(
        "models", help="stored model versions with their metrics and status", parents=[machine]
    ).set_defaults(handler=models)
    stats_parser = commands.add_parser(
        "stats", help="automation, audit precision, review time and backlog", parents=[machine]
    )
    stats_parser.add_argument(
        "period", nargs="?", metavar="1d|7d|30d", help=f"default {parsing.DEFAULT_PERIOD}d"
    )
    stats_parser.set_defaults(handler=stats)


def models(args: argparse.Namespace, settings: Settings) -> int:
    """The newest stored versions, newest first."""
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        versions = recent_models(session=session)
    return show(args, versions, models_text)


def stats(args: argparse.Namespace, settings: Settings) -> int:
    """The figures of the last day, week (default) or month."""
    days = parsing.period(() if args.period is None else (args.period,))
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        figures = service_stats(session=session, now=utc_now(), days=days)
        gate = gate_summary(session=session, settings=settings)
    return show(args, figures, lambda shown: stats_text(shown, gate))
