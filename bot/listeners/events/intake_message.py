"""A new top-level message in the intake channel becomes a ticket, answered in its thread.

The message ts is the ticket's external id (source `slack:<channel>`): Slack's retried
deliveries of the same event (same event_id, hence the same message) therefore find the
existing ticket instead of making a second, in any process and after a restart. A retry is
still handled, not dropped: the first delivery may have failed before the ticket was stored.

Slack escapes `&`, `<` and `>` in message text; the ticket stores what the person typed, and
mentions and links stay in Slack's `<...>` form, which review messages escape (never a ping).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.blocks.errors import error_text
from bot.blocks.text import unescape
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.intake import validate_new_ticket

log = logging.getLogger(__name__)


def is_new_human_message(event: dict[str, Any], intake_channel: str | None) -> bool:
    """Top-level, human, unedited messages in the intake channel only."""
    return (
        intake_channel is not None
        and event.get("channel") == intake_channel
        and event.get("subtype") is None  # edits, deletions, joins, bot_message...
        and event.get("bot_id") is None
        and isinstance(event.get("ts"), str)
        and event.get("thread_ts") in (None, event.get("ts"))
        and isinstance(event.get("user"), str)
        and bool(event["user"])
    )


def handler(deps: Deps) -> Any:
    """The Bolt listener for message events."""

    async def on_message(event: dict[str, Any], client: Any, request: AsyncBoltRequest) -> None:
        if not is_new_human_message(event, deps.settings.intake_channel):
            return
        channel, ts = event["channel"], event["ts"]
        try:
            new = validate_new_ticket(
                text=unescape(event.get("text") or ""),
                source=f"slack:{channel}",
                external_id=ts,
                metadata={"slack_user": event["user"], "slack_channel": channel, "slack_ts": ts},
            )
        except InvalidInput as error:
            log.info("intake message refused", extra={"reason": error.reason, "ts": ts})
            await client.chat_postEphemeral(
                channel=channel,
                user=event["user"],
                text=f"This message could not become a ticket: {error_text(error)}.",
            )
            return

        result = await deps.submit_ticket(new, reply_to=(channel, ts))
        retry = next(iter(request.headers.get("x-slack-retry-num", [])), None)  # HTTP mode only
        log.info(
            "intake message handled",
            extra={"ticket_id": result.ticket.id, "new_ticket": result.created, "retry": retry},
        )

    return on_message
