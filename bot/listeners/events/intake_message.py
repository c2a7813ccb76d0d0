"""A new top-level message in the intake channel becomes a ticket, answered in its thread.

The message ts is the ticket's external id (source `slack:<channel>`): Slack's retried
deliveries of the same event therefore find the existing ticket instead of making a second.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.intake import submit_under_current_policy, validate_new_ticket

log = logging.getLogger(__name__)


def is_new_human_message(event: dict[str, Any], intake_channel: str | None) -> bool:
    """Top-level, human, unedited messages in the intake channel only."""
    return (
        intake_channel is not None
        and event.get("channel") == intake_channel
        and event.get("subtype") is None  # edits, deletions, joins, bot_message...
        and event.get("bot_id") is None
        and event.get("thread_ts") in (None, event.get("ts"))
        and bool(event.get("user"))
    )


def handler(deps: Deps) -> Any:
    """The Bolt listener for message events."""

    async def on_message(event: dict[str, Any], client: Any) -> None:
        if not is_new_human_message(event, deps.settings.intake_channel):
            return
        channel, ts = event["channel"], event["ts"]
        try:
            request = validate_new_ticket(
                text=event.get("text", ""),
                source=f"slack:{channel}",
                external_id=ts,
                metadata={"slack_user": event["user"], "slack_channel": channel, "slack_ts": ts},
            )
        except InvalidInput as error:
            log.info("intake message refused", extra={"reason": error.reason, "ts": ts})
            await client.chat_postEphemeral(
                channel=channel,
                user=event["user"],
                text=f"This message could not become a ticket: {error.reason}.",
            )
            return

        await asyncio.to_thread(
            lambda: submit_under_current_policy(
                request,
                factory=deps.factory,
                model=deps.models.get,
                settings=deps.settings,
                now=deps.now(),
                rng=deps.rng,
                reply_to=(channel, ts),
            )
        )
        deps.wake_deliveries()

    return on_message
