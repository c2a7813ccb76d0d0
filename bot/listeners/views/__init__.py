"""Modal submissions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.blocks import ids
from bot.deps import Deps
from bot.listeners.views import no_label


def register(app: AsyncApp, deps: Deps) -> None:
    """Match the callback ids the modal builders write."""
    app.view(ids.NO_LABEL_VIEW)(no_label.handler(deps))
