"""Events from Slack: intake-channel messages and App Home opens."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.listeners.events import app_home, intake_message

# Event type -> listener factory.
LISTENERS = {"message": intake_message.handler, "app_home_opened": app_home.handler}
EVENT_TYPES = tuple(LISTENERS)

# What slack/manifest.yml subscribes to (a test checks it lists exactly these), and the event
# type each subscription delivers. No message.im or message.mpim: intake is a channel.
SUBSCRIPTIONS = {
    "message.channels": "message",  # a public intake channel
    "message.groups": "message",  # a private intake channel
    "app_home_opened": "app_home_opened",
}


def register(app: AsyncApp, deps: Deps) -> None:
    """Subscribe to the events the manifest asks Slack to send."""
    for event_type, factory in LISTENERS.items():
        app.event(event_type)(factory(deps))
