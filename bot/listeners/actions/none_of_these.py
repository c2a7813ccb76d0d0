""" "None of these…": open the modal that asks for an optional name for the missing label."""

from __future__ import annotations

from typing import Any

from bot.blocks.no_label import build_no_label_modal
from bot.deps import Deps
from bot.listeners.actions.common import clicked_ticket


def handler(deps: Deps) -> Any:
    """The Bolt listener for the "None of these…" button (the answer comes on submission)."""

    async def on_none_of_these(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        ticket_id = clicked_ticket(action)
        await client.views_open(trigger_id=body["trigger_id"], view=build_no_label_modal(ticket_id))

    return on_none_of_these
