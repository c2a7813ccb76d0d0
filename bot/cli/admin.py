"""`triage pause|resume|threshold|target|audit|quorum|floor|rollback`: steer the running
service from a shell, through the services `/triage` runs, when Slack cannot be used."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.operator import operator_options, run_change
from bot.listeners.commands import parsing
from bot.services import admin, admin_models
from bot.settings import Settings


def register(commands: Any) -> None:
    """Add the policy and model changes to the parser; each takes `--as NAME`."""
    operator = operator_options()

    def add(name: str, summary: str, handler: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=summary, parents=[operator])
        parser.set_defaults(handler=handler)
        return parser

    add("pause", "send every ticket to review until `triage resume`", pause)
    add("resume", "label confident tickets automatically again", resume)
    bar = add("threshold", "confidence needed to label automatically, for all or one", threshold)
    bar.add_argument("label", nargs="?", metavar="LABEL", help="one label only")
    bar.add_argument(
        "value", metavar="VALUE|tuned", help="0 to 1 or a percentage; tuned: the model's own"
    )
    add("target", "precision the next retraining tunes thresholds for", target).add_argument(
        "value", metavar="PRECISION", help="above 0.5, at most 0.999 (or a percentage)"
    )
    add("audit", "share of automatic tickets sent for a blind check", audit).add_argument(
        "value", metavar="RATE", help="0 to 1 or a percentage, e.g. 2%%"
    )
    add("quorum", "matching answers that decide a ticket", quorum).add_argument(
        "value", metavar="N", help=f"1 to {admin.MAX_QUORUM}"
    )
    add(
        "floor", "least confidence any ticket needs to be labelled automatically", floor
    ).add_argument("value", metavar="VALUE", help="0 to 1 or a percentage, e.g. 70%%")
    add(
        "rollback", "make a stored model version active (see `triage models`)", rollback
    ).add_argument("version", metavar="VERSION", help="e.g. v7 or 7")


def pause(args: argparse.Namespace, settings: Settings) -> int:
    """Every ticket goes to review; the model still suggests."""
    return run_change(args, settings, admin.set_paused, True)


def resume(args: argparse.Namespace, settings: Settings) -> int:
    """Confident tickets are labelled automatically again."""
    return run_change(args, settings, admin.set_paused, False)


def threshold(args: argparse.Namespace, settings: Settings) -> int:
    """`threshold VALUE`, `threshold LABEL VALUE`, or `tuned` to drop an override."""
    value = None if args.value.lower() == "tuned" else parsing.share(args.value, "threshold")
    if args.label is not None:
        return run_change(args, settings, admin.set_label_threshold, args.label, value)
    return run_change(args, settings, admin.set_threshold, value)


def target(args: argparse.Namespace, settings: Settings) -> int:
    """The precision the next retraining aims for."""
    value = parsing.share(args.value, "precision")
    return run_change(args, settings, admin.set_target_precision, value)


def audit(args: argparse.Namespace, settings: Settings) -> int:
    """The share of confident tickets sampled for a blind check."""
    value = parsing.share(args.value, "audit rate")
    return run_change(args, settings, admin.set_audit_rate, value)


def quorum(args: argparse.Namespace, settings: Settings) -> int:
    """How many matching answers decide a ticket."""
    return run_change(args, settings, admin.set_quorum, parsing.whole(args.value, "quorum"))


def floor(args: argparse.Namespace, settings: Settings) -> int:
    """No ticket below this confidence is labelled automatically, whatever its label's bar."""
    value = parsing.share(args.value, "confidence floor")
    return run_change(args, settings, admin.set_confidence_floor, value)


def rollback(args: argparse.Namespace, settings: Settings) -> int:
    """Activate a stored version; web processes switch to it at their next model check."""
    version = parsing.version(args.version)
    return run_change(args, settings, admin_models.rollback, version)
