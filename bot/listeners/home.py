"""Publishing one person's App Home: on opening the tab, and after a home button's click."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.blocks.home import build_home_view
from bot.deps import Deps
from bot.listeners.links import review_links
from bot.services.stats import HomeFigures, home_figures
from storage.database import unit_of_work


async def publish_home(deps: Deps, client: Any, user: str, notice: str | None = None) -> None:
    """Read the figures off the event loop, link the waiting tickets, publish the view."""

    def read() -> HomeFigures:
        with unit_of_work(deps.factory) as session:
            return home_figures(session=session, settings=deps.settings, now=deps.now(), user=user)

    figures = await asyncio.to_thread(read)
    links = await review_links(client, figures.waiting)
    admin = await deps.is_admin(user, client)
    view = build_home_view(figures, links=links, admin=admin, notice=notice)
    await client.views_publish(user_id=user, view=view)
