"""App Home admin buttons: the same service calls as `/triage retrain`, `pause`, `resume`.

Home clicks carry no response_url, so the outcome is shown by republishing the home view
with a one-line notice.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.commands import retrain_reply
from bot.blocks.home import HOME_PAUSE, HOME_RESUME, HOME_RETRAIN
from bot.deps import Deps
from bot.errors import TriageError
from bot.listeners.commands import changes
from bot.listeners.commands.context import Call
from bot.listeners.events.app_home import publish_home
from bot.services import admin

COMMAND_NAMES = {HOME_RETRAIN: "retrain", HOME_PAUSE: "pause", HOME_RESUME: "resume"}


async def _run(call: Call, action_id: str) -> str:
    what = f"use `/triage {COMMAND_NAMES[action_id]}`"
    await call.deps.require_admin(call.user, call.client, what)
    if action_id == HOME_RETRAIN:
        await changes.run_change(call, admin.request_retraining)
        return str(retrain_reply(call.deps.settings.alerts_channel)["text"])
    result = await changes.run_change(call, admin.set_paused, action_id == HOME_PAUSE)
    return result.summary


def handler(deps: Deps) -> Any:
    """The Bolt listener for the home buttons."""

    async def on_home_button(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        call = Call(deps=deps, user=body["user"]["id"], args=(), client=client)
        try:
            notice = await _run(call, action["action_id"])
        except TriageError as error:
            notice = error.reason
        await publish_home(deps, client, call.user, notice=notice)

    return on_home_button
