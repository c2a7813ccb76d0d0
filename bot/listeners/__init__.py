"""Bolt listeners, one callback per file; `register` wires every kind onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.listeners import actions, commands, events, options, views


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach all listeners to `app`."""
    for kind in (actions, commands, events, options, views):
        kind.register(app, deps)
