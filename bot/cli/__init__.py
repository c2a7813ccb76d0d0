"""The `triage` command line: one entry point, one subcommand per job an operator runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import NoReturn

from bot.cli import (
    admin,
    callbacks,
    data,
    demo,
    export,
    figures,
    forget,
    labels,
    modelling,
    sandbox,
    serve,
    worker,
)
from bot.errors import InvalidInput, TriageError
from bot.logs import configure_logging
from bot.settings import Settings

WITHOUT_SLACK = """\
Steering without Slack: pause, resume, threshold, target, audit, quorum, floor,
rollback, labels and callbacks retry run the same services as their /triage
commands, and models and stats show what /triage shows (--json for scripts). Each
change is written to the audit log as cli:NAME (--as NAME; default: your user name
on this machine) and announced in the alerts channel once the web or worker process
reaches Slack again. Run them with the deployment's settings (DATABASE_URL,
TRIAGE_ALERTS_CHANNEL).
`triage COMMAND --help` describes one command."""


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments are a one-line error like every other (exit status 2), naming the usage."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()[1:])
        raise InvalidInput(f"{message} (usage: {usage})")


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand registers its own arguments and handler."""
    parser = OneLineParser(
        prog="triage",
        description="Human-in-the-loop ticket triage for Slack: import, train, classify, "
        "serve,\nand steer the service when Slack is down.",
        epilog=WITHOUT_SLACK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"triage-loop {version('triage-loop')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (
        data,
        modelling,
        demo,
        sandbox,
        serve,
        worker,
        admin,
        labels,
        figures,
        export,
        forget,
        callbacks,
    )
    for module in modules:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; user errors become one line on stderr and exit status 2."""
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # found by the top parser, whose usage would not name the command's
            raise InvalidInput(
                f"unrecognized arguments: {' '.join(extra)} (see `triage {args.command} --help`)"
            )
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
