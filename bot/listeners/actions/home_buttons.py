"""App Home admin buttons: the same service calls as `/triage retrain`, `pause`, `resume`.

Home clicks carry no response_url, so the outcome is shown by republishing the home view
with a one-line notice.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.changes import change_summary
from bot.blocks.commands import retrain_reply
from bot.blocks.errors import error_text
from bot.blocks.home import HOME_PAUSE, HOME_RESUME, HOME_RETRAIN
from bot.deps import Deps
from bot.errors import TriageError
from bot.listeners.admin_changes import run_change
from bot.listeners.home import publish_home
from bot.services import admin

COMMAND_NAMES = {HOME_RETRAIN: "retrain", HOME_PAUSE: "pause", HOME_RESUME: "resume"}


async def _run(deps: Deps, user: str, client: Any, action_id: str) -> str:
    await deps.require_admin(user, client, f"use `/triage {COMMAND_NAMES[action_id]}`")
    if action_id == HOME_RETRAIN:
        await run_change(deps, user, admin.request_retraining)
        return str(retrain_reply(deps.settings.alerts_channel)["text"])
    result = await run_change(deps, user, admin.set_paused, action_id == HOME_PAUSE)
    return change_summary(result)


def handler(deps: Deps) -> Any:
    """The Bolt listener for the home buttons."""

    async def on_home_button(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        user = body["user"]["id"]
        try:
            notice = await _run(deps, user, client, action["action_id"])
        except TriageError as error:
            notice = error_text(error)
        await publish_home(deps, client, user, notice=notice)

    return on_home_button
