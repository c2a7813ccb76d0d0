"""Admin `/triage` commands that change the running service, each through one service call."""

from __future__ import annotations

from typing import Any

from bot.blocks.changes import change_reply
from bot.blocks.commands import retrain_reply
from bot.listeners.admin_changes import Change, run_change
from bot.listeners.commands import parsing
from bot.listeners.commands.context import Call, Message
from bot.services import admin, admin_labels, admin_models


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
