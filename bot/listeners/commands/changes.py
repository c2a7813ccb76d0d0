"""Admin `/triage` commands that change the running service, each through one service call."""

from __future__ import annotations

from typing import Any

from bot.blocks.changes import change_reply
from bot.blocks.commands import retrain_reply
from bot.blocks.text import escape
from bot.blocks.topics import build_suggestions_reply
from bot.errors import InvalidInput
from bot.listeners.admin_changes import Change, run_change
from bot.listeners.commands import parsing
from bot.listeners.commands.context import Call, Message
from bot.services import admin, admin_labels, admin_models, dead_letters, topics


async def apply(call: Call, change: Change, *args: Any) -> Message:
    """Run the change and confirm it to the admin."""
    result = await run_change(call.deps, call.user, change, *args)
    return change_reply(result, alerts_channel=call.deps.settings.alerts_channel)


async def threshold(call: Call) -> Message:
    """`threshold VALUE`, `threshold LABEL VALUE`, or `tuned` to drop an override."""
    parsing.expect(call.args, 1, 2)
    *label, raw = call.args
    value = None if raw.lower() == "tuned" else parsing.share(raw, "threshold")
    if label:
        return await apply(call, admin.set_label_threshold, label[0], value)
    return await apply(call, admin.set_threshold, value)


async def target(call: Call) -> Message:
    """`target PRECISION`: used when the next retraining tunes thresholds."""
    parsing.expect(call.args, 1, 1)
    return await apply(call, admin.set_target_precision, parsing.share(call.args[0], "precision"))


async def audit(call: Call) -> Message:
    """`audit RATE`: share of confident tickets sampled for a blind check."""
    parsing.expect(call.args, 1, 1)
    return await apply(call, admin.set_audit_rate, parsing.share(call.args[0], "audit rate"))


async def quorum(call: Call) -> Message:
    """`quorum N`: matching answers needed to decide a ticket."""
    parsing.expect(call.args, 1, 1)
    return await apply(call, admin.set_quorum, parsing.whole(call.args[0], "quorum"))


async def floor(call: Call) -> Message:
    """`floor VALUE`: the least confidence any one ticket needs to be labelled automatically."""
    parsing.expect(call.args, 1, 1)
    return await apply(
        call, admin.set_confidence_floor, parsing.share(call.args[0], "confidence floor")
    )


async def labels_suggest(call: Call) -> Message:
    """`labels suggest`: open topics with buttons; `create ID [NAME]` or `dismiss ID` acts."""
    if not call.args:
        found = await call.db(lambda session: topics.topic_suggestions(session=session))
        return build_suggestions_reply(found)
    action, rest = call.args[0].lower(), call.args[1:]
    if action == "create":
        parsing.expect(rest, 1, 2)
        topic, name = parsing.whole(rest[0], "topic"), (rest[1] if len(rest) > 1 else None)
        return await apply(call, topics.create_label_from_topic, topic, name)
    if action == "dismiss":
        parsing.expect(rest, 1, 1)
        return await apply(call, topics.dismiss_topic, parsing.whole(rest[0], "topic"))
    raise InvalidInput(
        f"Unknown suggestion action `{escape(call.args[0])}`: use create or dismiss."
    )


async def pause(call: Call) -> Message:
    """Send every ticket to review."""
    parsing.expect(call.args, 0, 0)
    return await apply(call, admin.set_paused, True)


async def resume(call: Call) -> Message:
    """Label confident tickets automatically again."""
    parsing.expect(call.args, 0, 0)
    return await apply(call, admin.set_paused, False)


async def retrain(call: Call) -> Message:
    """Ask the worker to retrain (never in the web process)."""
    parsing.expect(call.args, 0, 0)
    await run_change(call.deps, call.user, admin.request_retraining)
    return retrain_reply(call.deps.settings.alerts_channel)


async def rollback(call: Call) -> Message:
    """`rollback VERSION`: activate a stored version, then reload it in this process."""
    parsing.expect(call.args, 1, 1)
    reply = await apply(call, admin_models.rollback, parsing.version(call.args[0]))
    call.deps.models.invalidate()
    return reply


async def label_add(call: Call) -> Message:
    """`labels add NAME [description]`."""
    parsing.expect(call.args, 1)
    description = " ".join(call.args[1:]) or None
    return await apply(call, admin_labels.add_label, call.args[0], description)


async def label_rename(call: Call) -> Message:
    """`labels rename OLD NEW`: everywhere, in one transaction."""
    parsing.expect(call.args, 2, 2)
    return await apply(call, admin_labels.rename_label, *call.args)


async def label_retire(call: Call) -> Message:
    """`labels retire NAME`: no longer offered; history kept."""
    parsing.expect(call.args, 1, 1)
    return await apply(call, admin_labels.retire_label, call.args[0])


async def label_route(call: Call) -> Message:
    """`labels route NAME #channel`."""
    parsing.expect(call.args, 2, 2)
    name, where = call.args
    return await apply(call, admin_labels.route_label, name, parsing.channel(where))


async def callbacks_retry(call: Call) -> Message:
    """`callbacks retry [TICKET|all]`: send given-up helpdesk callbacks again."""
    parsing.expect(call.args, 0, 1)
    target = parsing.ticket(call.args[0]) if call.args else None
    return await apply(call, dead_letters.retry_callbacks, target)
