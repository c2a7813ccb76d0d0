"""`triage labels [list|add|rename|retire|route|suggest]`: the label set from a shell, through
the services `/triage labels` runs; `suggest` handles the labels new topics call for."""

from __future__ import annotations

import argparse
from typing import Any

from bot.blocks.plain import labels_text, suggestions_text
from bot.cli.operator import operator_options, run_change
from bot.cli.output import json_options, show
from bot.cli.runtime import open_database
from bot.errors import InvalidInput
from bot.listeners.commands import parsing
from bot.services import admin_labels, topics
from bot.settings import Settings
from storage.database import unit_of_work
from storage.models import Label


def register(commands: Any) -> None:
    """Add `labels` and its actions to the parser; `labels` alone lists them."""
    operator, machine = operator_options(), json_options()
    labels = commands.add_parser(
        "labels", help="list and change labels; act on suggested ones", parents=[machine]
    )
    labels.set_defaults(handler=list_labels)
    actions = labels.add_subparsers(dest="labels_action", metavar="ACTION")
    actions.add_parser(
        "list", help="labels with routes and descriptions (the default)", parents=[machine]
    ).set_defaults(handler=list_labels)

    add = actions.add_parser(
        "add", help="add a label, or bring a retired one back", parents=[operator]
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("description", nargs="*", metavar="DESCRIPTION")
    add.set_defaults(handler=add_label)
    rename = actions.add_parser("rename", help="rename a label everywhere", parents=[operator])
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")
    rename.set_defaults(handler=rename_label)
    retire = actions.add_parser("retire", help="stop offering a label", parents=[operator])
    retire.add_argument("name", metavar="NAME")
    retire.set_defaults(handler=retire_label)
    route = actions.add_parser(
        "route", help="post a label's tickets to a channel", parents=[operator]
    )
    route.add_argument("name", metavar="NAME")
    route.add_argument(
        "channel", metavar="CHANNEL", help="an id (C0123ABCD) or a name (refunds, or '#refunds')"
    )
    route.set_defaults(handler=route_label)

    suggest = actions.add_parser(
        "suggest", help="labels suggested for new topics: list, create, dismiss", parents=[machine]
    )
    suggest.set_defaults(handler=list_suggestions)
    suggestions = suggest.add_subparsers(dest="suggest_action", metavar="ACTION")
    suggestions.add_parser(
        "list", help="open new topics with their suggested labels (the default)", parents=[machine]
    ).set_defaults(handler=list_suggestions)
    create = suggestions.add_parser(
        "create", help="create a topic's label and re-ask its tickets", parents=[operator]
    )
    create.add_argument("topic", metavar="TOPIC", help="its number in `triage labels suggest`")
    create.add_argument("name", nargs="?", metavar="NAME", help="instead of the suggested name")
    create.set_defaults(handler=create_from_topic)
    dismiss = suggestions.add_parser(
        "dismiss",
        help="not a new kind of ticket: stop sending its look-alikes to people",
        parents=[operator],
    )
    dismiss.add_argument("topic", metavar="TOPIC")
    dismiss.set_defaults(handler=dismiss_topic)


def label_json(label: Label) -> dict[str, Any]:
    """A label for scripts: its name, whether it is offered, its description and route."""
    return {
        "name": label.name,
        "active": label.active,
        "description": label.description,
        "route_channel": label.route_channel,
    }


def list_labels(args: argparse.Namespace, settings: Settings) -> int:
    """Every label, active first."""
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        labels = admin_labels.all_labels(session=session)
    return show(args, labels, labels_text, lambda listed: [label_json(x) for x in listed])


def add_label(args: argparse.Namespace, settings: Settings) -> int:
    """`labels add NAME [DESCRIPTION...]`."""
    description = " ".join(args.description) or None
    return run_change(args, settings, admin_labels.add_label, args.name, description)


def rename_label(args: argparse.Namespace, settings: Settings) -> int:
    """`labels rename OLD NEW`: everywhere, in one transaction."""
    return run_change(args, settings, admin_labels.rename_label, args.old, args.new)


def retire_label(args: argparse.Namespace, settings: Settings) -> int:
    """`labels retire NAME`: no longer offered; history kept."""
    return run_change(args, settings, admin_labels.retire_label, args.name)


def route_label(args: argparse.Namespace, settings: Settings) -> int:
    """`labels route NAME CHANNEL`."""
    try:
        channel = parsing.channel(args.channel)
    except InvalidInput:  # its reason tells Slack users to pick one with `#`
        raise InvalidInput(
            f"`{args.channel}` is not a channel: give its ID (C0123ABCD) or its name (refunds)."
        ) from None
    return run_change(args, settings, admin_labels.route_label, args.name, channel)


def list_suggestions(args: argparse.Namespace, settings: Settings) -> int:
    """Open new topics, newest first, with their suggested labels and examples."""
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        found = topics.topic_suggestions(session=session)
    return show(args, found, suggestions_text)


def create_from_topic(args: argparse.Namespace, settings: Settings) -> int:
    """`labels suggest create TOPIC [NAME]`."""
    topic = parsing.whole(args.topic, "topic")
    return run_change(args, settings, topics.create_label_from_topic, topic, args.name)


def dismiss_topic(args: argparse.Namespace, settings: Settings) -> int:
    """`labels suggest dismiss TOPIC`."""
    topic = parsing.whole(args.topic, "topic")
    return run_change(args, settings, topics.dismiss_topic, topic)
