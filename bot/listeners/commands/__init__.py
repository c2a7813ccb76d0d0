"""The `/triage` slash command."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.listeners.commands import triage

COMMAND = "/triage"


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach `/triage`."""
    app.command(COMMAND)(triage.handler(deps))
