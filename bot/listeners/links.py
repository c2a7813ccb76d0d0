"""Links to review messages, asked of Slack (chat.getPermalink knows the workspace's URL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError

from bot.services.stats import PendingTicket

log = logging.getLogger(__name__)


async def review_links(client: Any, items: Sequence[PendingTicket]) -> dict[int, str]:
    """Ticket id -> permalink, fetched concurrently; a ticket without one is shown unlinked."""

    async def one(item: PendingTicket) -> tuple[int, str] | None:
        try:
            answer = await client.chat_getPermalink(channel=item.channel, message_ts=item.ts)
        except (SlackClientError, aiohttp.ClientError) as error:
            log.warning("no permalink", extra={"ticket": item.ticket_id, "error": str(error)})
            return None
        return item.ticket_id, str(answer["permalink"])

    found = await asyncio.gather(*(one(i) for i in items if i.channel and i.ts))
    return dict(pair for pair in found if pair is not None)
