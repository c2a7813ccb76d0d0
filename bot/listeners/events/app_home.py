"""App Home: publish the person's dashboard each time they open the Home tab."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.listeners.home import publish_home


def handler(deps: Deps) -> Any:
    """The Bolt listener for app_home_opened."""

    async def on_home_opened(event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await publish_home(deps, client, event["user"])

    return on_home_opened
