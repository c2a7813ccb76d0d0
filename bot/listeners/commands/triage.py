"""`/triage`: find the sub-command, check who may run it, run it, answer privately.

Fast commands answer in the acknowledgement itself; slow ones acknowledge with "Working on it…"
at once (Slack waits 3 seconds) and answer through the response_url.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.commands import error_reply, help_message, text_message
from bot.blocks.errors import error_text
from bot.deps import Deps
from bot.errors import InvalidInput, TriageError
from bot.listeners.commands import changes, info, parsing
from bot.listeners.commands.context import Call, Command, Message

WORKING = "Working on it…"


async def _help(call: Call) -> Message:
    """The commands this person may run."""
    admin = await call.deps.is_admin(call.user, call.client)
    shown = [(c.usage, c.summary) for c in COMMANDS.values() if not c.admin]
    admin_shown = [(c.usage, c.summary) for c in COMMANDS.values() if c.admin] if admin else []
    return help_message(shown, admin_shown)


def _commands() -> dict[str, Command]:
    items = [
        Command("help", "/triage help", "this list", _help),
        Command("stats", "/triage stats [1d|7d|30d]", "automation, precision, backlog", info.stats),
        Command(
            "queue", "/triage queue", "oldest tickets waiting for review", info.queue, slow=True
        ),
        Command(
            "threshold",
            "/triage threshold [LABEL] VALUE|tuned",
            "confidence needed to label automatically",
            changes.threshold,
            admin=True,
        ),
        Command(
            "target",
            "/triage target PRECISION",
            "precision the next retraining aims for",
            changes.target,
            admin=True,
        ),
        Command(
            "audit",
            "/triage audit RATE",
            "share of automatic tickets checked blind",
            changes.audit,
            admin=True,
        ),
        Command(
            "quorum",
            "/triage quorum N",
            "matching answers that decide a ticket",
            changes.quorum,
            admin=True,
        ),
        Command(
            "floor",
            "/triage floor VALUE",
            "least confidence any one ticket needs to be automatic",
            changes.floor,
            admin=True,
        ),
        Command("pause", "/triage pause", "send every ticket to review", changes.pause, admin=True),
        Command(
            "resume",
            "/triage resume",
            "label confident tickets automatically again",
            changes.resume,
            admin=True,
        ),
        Command(
            "retrain",
            "/triage retrain",
            "train a new model from the answers",
            changes.retrain,
            admin=True,
        ),
        Command(
            "models",
            "/triage models",
            "model versions with metrics and status",
            info.models,
            admin=True,
            slow=True,
        ),
        Command(
            "rollback",
            "/triage rollback VERSION",
            "make a stored model version active",
            changes.rollback,
            admin=True,
            slow=True,  # loads the model to check it: seconds for a large one
        ),
        Command(
            "reviewers",
            "/triage reviewers [1d|7d|30d]",
            "answers, estimated accuracy and speed (yours; everyone's for admins)",
            info.reviewers,
            slow=True,
        ),
        Command(
            "labels list",
            "/triage labels [list]",
            "labels with descriptions and routes",
            info.labels,
            admin=True,
        ),
        Command(
            "labels add",
            "/triage labels add NAME [description]",
            "add a label",
            changes.label_add,
            admin=True,
        ),
        Command(
            "labels rename",
            "/triage labels rename OLD NEW",
            "rename a label everywhere",
            changes.label_rename,
            admin=True,
        ),
        Command(
            "labels retire",
            "/triage labels retire NAME",
            "stop offering a label",
            changes.label_retire,
            admin=True,
        ),
        Command(
            "labels suggest",
            "/triage labels suggest [create ID [NAME] | dismiss ID]",
            "labels suggested by new topics",
            changes.labels_suggest,
            admin=True,
            slow=True,
        ),
        Command(
            "labels route",
            "/triage labels route NAME #channel",
            "post a label's tickets to a channel",
            changes.label_route,
            admin=True,
        ),
        Command(
            "callbacks retry",
            "/triage callbacks retry [TICKET|all]",
            "send given-up helpdesk callbacks again (all when no ticket is named)",
            changes.callbacks_retry,
            admin=True,
        ),
    ]
    return {command.name: command for command in items}


COMMANDS = _commands()
# Commands with sub-commands, and the sub-command their name alone runs ("" for none).
GROUPS = {"labels": "list", "callbacks": ""}


def resolve(words: list[str]) -> tuple[Command, tuple[str, ...]]:
    """The command the words name, and its arguments; `labels` takes a sub-command."""
    if not words:
        return COMMANDS["help"], ()
    name, rest = words[0].lower(), words[1:]
    if name in GROUPS:
        group, sub = name, rest[0].lower() if rest else GROUPS[name]
        name, rest = f"{group} {sub}", rest[1:]
        if name not in COMMANDS:
            usages = " | ".join(c.usage for c in COMMANDS.values() if c.name.startswith(group))
            problem = f"Unknown {group} command `{sub}`." if sub else "Which one?"
            raise InvalidInput(f"{problem}\nUsage: {usages}")
    if name not in COMMANDS:
        raise InvalidInput(f"Unknown command `{words[0]}`. See `/triage help`.")
    return COMMANDS[name], tuple(rest)


async def _answer(command: Command, call: Call) -> Message:
    """Run the command; an error of the family becomes its reason (with the usage for bad input)."""
    try:
        return await command.run(call)
    except InvalidInput as error:
        return error_reply(error_text(error), command.usage)
    except TriageError as error:
        return text_message(error_text(error))


def handler(deps: Deps) -> Any:
    """The Bolt listener for `/triage`."""

    async def on_command(ack: Any, respond: Any, command: dict[str, Any], client: Any) -> None:
        user = command["user_id"]
        try:
            chosen, args = resolve(parsing.words(command.get("text") or ""))
            if chosen.admin:
                await deps.require_admin(user, client, f"use `/triage {chosen.name}`")
        except TriageError as error:
            await ack(text=error_text(error), response_type="ephemeral")
            return
        call = Call(deps=deps, user=user, args=args, client=client)
        if not chosen.slow:
            await ack(response_type="ephemeral", **await _answer(chosen, call))
            return
        await ack(text=WORKING, response_type="ephemeral")
        answer = await _answer(chosen, call)
        await respond(response_type="ephemeral", replace_original=False, **answer)

    return on_command
