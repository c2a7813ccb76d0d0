"""The `triage` command line: one entry point, one subcommand per job an operator runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version

from bot.cli import data, demo, modelling, sandbox, serve, worker
from bot.errors import TriageError
from bot.logs import configure_logging
from bot.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand registers its own arguments and handler."""
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Human-in-the-loop ticket triage: import, train, classify, serve Slack.",
    )
    parser.add_argument(
        "--version", action="version", version=f"triage-loop {version('triage-loop')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, modelling, demo, sandbox, serve, worker):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; user errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(defaults=getattr(args, "setting_defaults", None))
        # Commands a person runs answer in their own words; only the serving processes'
        # logs are their output, so the others show warnings and worse.
        level = settings.log_level
        if not getattr(args, "serves", False) and logging.getLevelName(level) < logging.WARNING:
            level = "WARNING"
        configure_logging(level)
        return int(args.handler(args, settings) or 0)
    except TriageError as error:
        print(f"triage: error: {error.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("triage: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
