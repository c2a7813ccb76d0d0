"""The Slack manifests and the code agree: every subscribed event and command is handled,
every scope is one the code needs, and the Socket Mode manifest differs only in transport."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from bot.listeners.commands import COMMAND
from bot.listeners.events import EVENT_TYPES, SUBSCRIPTIONS
from bot.sandbox.slack import signed_event, signed_slash_command, slash_command_fields
from tests.bot.conftest import INTAKE_CHANNEL, RunningWeb
from tests.bot.test_socket_mode import socket_web  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "slack" / "manifest.yml"
SOCKET_MANIFEST = REPO / "slack" / "manifest.socket.yml"
SANDBOX = REPO / "bot" / "sandbox"

# Scopes each Web API method needs (api.slack.com/methods); a method the code starts
# calling must be added here, and so its scope to the manifests.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write", "chat:write.public"},  # route channels uninvited
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.getPermalink": set(),
    "views.publish": set(),
    "views.open": set(),  # needs only the trigger_id of a click
    "usergroups.users.list": {"usergroups:read"},
    "conversations.list": {"channels:read", "groups:read"},
}
EVENT_SCOPES = {
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "app_home_opened": set(),
}


CLIENT_CALL = re.compile(r"\bclient\.([a-z]+_[A-Za-z_]+)\(")  # client.chat_getPermalink(
API_NAME = re.compile(r"\"((?:chat|views|conversations|users|usergroups)\.[A-Za-z.]+)\"")


def manifest(path: Path = MANIFEST) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def methods_called() -> set[str]:
    """Every Slack Web API method named in the shipped code (client calls and API names)."""
    found: set[str] = set()
    for path in [*(REPO / "bot").rglob("*.py"), *(REPO / "jobs").rglob("*.py")]:
        if SANDBOX in path.parents:  # the fake Slack implements these methods; it calls none
            continue
        source = path.read_text()
        found |= {call.replace("_", ".") for call in CLIENT_CALL.findall(source)}
        found |= set(API_NAME.findall(source))
    return found


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


def test_every_scope_is_one_the_code_needs_and_none_is_missing() -> None:
    called = methods_called()
    assert called <= set(METHOD_SCOPES), f"add the scopes of {called - set(METHOD_SCOPES)}"
    assert "conversations.list" in called and "usergroups.users.list" in called
    needed = {"commands"}.union(*(METHOD_SCOPES[m] for m in called))
    needed |= set().union(*(EVENT_SCOPES[e] for e in SUBSCRIPTIONS))
    for path in (MANIFEST, SOCKET_MANIFEST):
        assert set(manifest(path)["oauth_config"]["scopes"]["bot"]) == needed, path.name
    assert "users:read" not in needed  # requested once, never used


def without_transport(data: Any) -> Any:
    """The manifest with its URLs and the Socket Mode switch taken out."""
    if isinstance(data, dict):
        return {
            k: without_transport(v)
            for k, v in data.items()
            if not k.endswith("url") and k != "socket_mode_enabled"
        }
    if isinstance(data, list):
        return [without_transport(item) for item in data]
    return data


def test_the_socket_mode_manifest_differs_only_in_transport() -> None:
    http, socket = manifest(MANIFEST), manifest(SOCKET_MANIFEST)
    assert without_transport(http) == without_transport(socket)
    assert http["settings"]["socket_mode_enabled"] is False
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "https://" not in json.dumps(socket)


def test_the_server_handles_every_socket_manifest_event_and_command_over_the_socket(
    socket_web: RunningWeb,  # noqa: F811 - the imported fixture
    slack_signing_secret: str,
) -> None:
    data = manifest(SOCKET_MANIFEST)
    fake = socket_web.fake
    for name in data["settings"]["event_subscriptions"]["bot_events"]:
        event = {
            "type": name.split(".")[0],
            "channel": INTAKE_CHANNEL,
            "user": "U1",
            "text": "hello",
            "ts": "1.1",
            "channel_type": name.split(".")[1][:-1] if "." in name else "app_home",
        }
        body, _ = signed_event(slack_signing_secret, event)
        envelope_id = fake.send_envelope("events_api", json.loads(body))
        assert fake.wait_for_ack(envelope_id)["envelope_id"] == envelope_id, name
    for command in data["features"]["slash_commands"]:
        fields = slash_command_fields(
            command=command["command"],
            text="help",
            user_id="U1",
            response_url=fake.new_response_url(),
        )
        envelope_id = fake.send_envelope("slash_commands", fields, accepts_response_payload=True)
        assert "/triage" in json.dumps(fake.wait_for_ack(envelope_id)["payload"])
