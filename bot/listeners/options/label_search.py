"""Label search for the external select: active labels containing what the person typed."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.blocks.ticket import STATIC_SELECT_LIMIT, label_option
from bot.deps import Deps
from storage.database import unit_of_work
from storage.queries.labels import active_labels


def matching(names: list[str], query: str) -> list[str]:
    """Names starting with the query first, then names containing it; at most 100."""
    wanted = query.strip().casefold()
    starts = [n for n in names if n.casefold().startswith(wanted)]
    contains = [n for n in names if wanted in n.casefold() and n not in starts]
    return (starts + contains)[:STATIC_SELECT_LIMIT]


def handler(deps: Deps) -> Any:
    """The Bolt listener for block_suggestion requests."""

    async def on_search(ack: Any, payload: dict[str, Any]) -> None:
        def names() -> list[str]:
            with unit_of_work(deps.factory) as session:
                return [label.name for label in active_labels(session=session)]

        found = matching(await asyncio.to_thread(names), payload.get("value", ""))
        await ack(options=[label_option(name) for name in found])

    return on_search
