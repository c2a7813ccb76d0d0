"""Running an admin change for any listener (`/triage` and the App Home buttons alike)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.deps import Deps
from bot.services.admin import AdminChange
from storage.database import unit_of_work

Change = Callable[..., AdminChange]


async def run_change(deps: Deps, user: str, change: Change, *args: Any) -> AdminChange:
    """Run one admin service in a unit of work off the event loop; wake the outbox for its
    announcement."""
    now = deps.now()

    def unit() -> AdminChange:
        with unit_of_work(deps.factory) as session:
            return change(*args, session=session, settings=deps.settings, actor=user, now=now)

    result = await asyncio.to_thread(unit)
    if result.announced:
        deps.wake_deliveries()
    return result
