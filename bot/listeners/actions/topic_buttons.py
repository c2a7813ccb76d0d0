"""New-topic buttons (App Home, `/triage labels suggest`): create the label and re-ask, or
dismiss. Admins only, the same services as `/triage labels suggest create|dismiss`."""

from __future__ import annotations

from typing import Any

from bot.blocks import ids
from bot.blocks.changes import change_summary
from bot.blocks.errors import error_text
from bot.deps import Deps
from bot.errors import InvalidInput, TriageError
from bot.listeners.admin_changes import run_change
from bot.listeners.home import publish_home
from bot.services.topics import create_label_from_topic, dismiss_topic


async def _run(deps: Deps, user: str, client: Any, action: dict[str, Any]) -> str:
    value = str(action.get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button does not name a topic.")
    if action["action_id"] == ids.TOPIC_CREATE:
        await deps.require_admin(user, client, "create labels from new topics")
        result = await run_change(deps, user, create_label_from_topic, int(value), None)
    else:
        await deps.require_admin(user, client, "dismiss new topics")
        result = await run_change(deps, user, dismiss_topic, int(value))
    deps.wake_deliveries()  # the re-asked tickets' messages are refreshed at once
    return change_summary(result)


def handler(deps: Deps) -> Any:
    """The Bolt listener for both buttons; answers where the click came from."""

    async def on_topic_button(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        await ack()
        user = body["user"]["id"]
        try:
            notice = await _run(deps, user, client, action)
        except TriageError as error:
            notice = error_text(error)
        if body.get("view", {}).get("type") == "home":
            await publish_home(deps, client, user, notice=notice)
        else:
            await respond(text=notice, response_type="ephemeral", replace_original=False)

    return on_topic_button
