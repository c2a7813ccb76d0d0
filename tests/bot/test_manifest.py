"""The Slack manifest and the code agree: every subscribed event and command is handled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.listeners.commands import COMMAND
from bot.listeners.events import EVENT_TYPES, SUBSCRIPTIONS
from bot.sandbox.slack import signed_event, signed_slash_command
from tests.bot.conftest import INTAKE_CHANNEL, RunningWeb

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_lists_exactly_the_registered_commands_and_events() -> None:
    data = manifest()
    commands = {c["command"] for c in data["features"]["slash_commands"]}
    assert commands == {COMMAND}
    subscribed = data["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(subscribed) == sorted(SUBSCRIPTIONS)  # full names: message.im is not message
    assert set(SUBSCRIPTIONS.values()) == set(EVENT_TYPES)
    urls = {c["url"] for c in data["features"]["slash_commands"]}
    urls |= {
        data["settings"]["event_subscriptions"]["request_url"],
        data["settings"]["interactivity"]["request_url"],
        data["settings"]["interactivity"]["message_menu_options_url"],
    }
    assert {url.rsplit("/", 2)[-2:] == ["slack", "events"] for url in urls} == {True}


def test_the_server_handles_every_manifest_event_and_command(
    web: RunningWeb, slack_signing_secret: str
) -> None:
    """Bolt answers 404 to a request no listener matches: each of these must get 200."""
    data = manifest()
    for name in data["settings"]["event_subscriptions"]["bot_events"]:
        event = {
            "type": name.split(".")[0],
            "channel": INTAKE_CHANNEL,
            "user": "U1",
            "text": "hello",
            "ts": "1.1",
            "channel_type": name.split(".")[1][:-1] if "." in name else "app_home",
        }
        assert web.slack(signed_event(slack_signing_secret, event)).status_code == 200, name
    for command in data["features"]["slash_commands"]:
        signed = signed_slash_command(
            slack_signing_secret,
            command=command["command"],
            text="help",
            user_id="U1",
            response_url=web.fake.new_response_url(),
        )
        response = web.slack(signed)
        assert response.status_code == 200 and "/triage" in response.text
