"""Button and select clicks on ticket messages and in App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.blocks import ids
from bot.blocks.home import HOME_ACTIONS
from bot.deps import Deps
from bot.listeners.actions import home_buttons, label, none_of_these, skip, topic_buttons, undo


def register(app: AsyncApp, deps: Deps) -> None:
    """Match the action ids the ticket and home builders write."""
    app.action(ids.SUGGEST_PATTERN)(label.handler(deps))
    app.action(ids.PICK_LABEL)(label.handler(deps))
    app.action(ids.SKIP)(skip.handler(deps))
    app.action(ids.UNDO)(undo.handler(deps))
    app.action(ids.NONE_OF_THESE)(none_of_these.handler(deps))
    app.action(ids.TOPIC_CREATE)(topic_buttons.handler(deps))
    app.action(ids.TOPIC_DISMISS)(topic_buttons.handler(deps))
    for action_id in HOME_ACTIONS:
        app.action(action_id)(home_buttons.handler(deps))
