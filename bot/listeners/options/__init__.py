"""Options for external selects (the label picker when there are more than 100 labels)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.blocks import ids
from bot.deps import Deps
from bot.listeners.options import label_search


def register(app: AsyncApp, deps: Deps) -> None:
    """Serve the label search."""
    app.options(ids.PICK_LABEL)(label_search.handler(deps))
