"""Build incoming Slack requests (events, interactions, commands) signed exactly like Slack."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

VERIFICATION_TOKEN = "legacy-verification-token"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_ids = itertools.count(1)

Signed = tuple[bytes, dict[str, str]]


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Slack's v0 signature headers, exposed so tests can forge stale or bad ones."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def _signed(secret: str, body: bytes, content_type: str, timestamp: int | None) -> Signed:
    """Attach the headers Slack always sends to a body."""
    headers = {
        "Content-Type": content_type,
        "User-Agent": SLACK_USER_AGENT,
        **sign(secret, body, int(time.time()) if timestamp is None else timestamp),
    }
    return body, headers


def _json_request(secret: str, payload: dict[str, Any], timestamp: int | None) -> Signed:
    """Events API requests are raw JSON."""
    body = json.dumps(payload).encode("utf-8")
    return _signed(secret, body, "application/json", timestamp)


def _form_request(secret: str, fields: dict[str, str], timestamp: int | None) -> Signed:
    """Slash commands and interactions are form-encoded."""
    body = urlencode(fields).encode("utf-8")
    return _signed(secret, body, "application/x-www-form-urlencoded", timestamp)


def _payload_request(secret: str, payload: dict[str, Any], timestamp: int | None) -> Signed:
    """Interactions arrive as a single form field `payload` holding JSON."""
    return _form_request(secret, {"payload": json.dumps(payload)}, timestamp)


def signed_interaction(
    secret: str, payload: dict[str, Any], *, timestamp: int | None = None
) -> Signed:
    """Any interaction payload (block_actions, view_submission, ...) as Slack POSTs it."""
    return _payload_request(secret, payload, timestamp)


def new_trigger_id() -> str:
    """A unique trigger_id shaped like Slack's."""
    return f"{int(time.time())}.{next(_ids):04d}.{uuid.uuid4().hex}"


def _event_ts() -> str:
    """A fresh Slack-style event timestamp."""
    return f"{time.time():.6f}"


def signed_event(
    secret: str,
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    bot_user_id: str = "UBOT",
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> Signed:
    """An Events API `event_callback` envelope around `event`, with retry headers if asked."""
    event = {**event}
    event.setdefault("event_ts", _event_ts())
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):010d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    body, headers = _json_request(secret, envelope, timestamp)
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    return body, headers


def signed_url_verification(secret: str, challenge: str, *, timestamp: int | None = None) -> Signed:
    """The handshake Slack sends when the Events request URL is configured."""
    payload = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return _json_request(secret, payload, timestamp)


def signed_app_home_opened(
    secret: str, *, user_id: str, channel_id: str = "D0001", tab: str = "home", **kwargs: Any
) -> Signed:
    """An app_home_opened event for `user_id` (extra kwargs go to signed_event)."""
    event = {"type": "app_home_opened", "user": user_id, "channel": channel_id, "tab": tab}
    return signed_event(secret, event, **kwargs)


def interaction_user(user_id: str, user_name: str | None, team_id: str) -> dict[str, str]:
    """The `user` object of interaction payloads."""
    name = user_name or f"user_{user_id.lower()}"
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _find_element(message: dict[str, Any] | None, action_id: str) -> dict[str, Any]:
    """Find the element a user clicked in the posted message, to echo its text like Slack."""
    for block in (message or {}).get("blocks") or []:
        candidates = list(block.get("elements") or []) + [block.get("accessory") or {}]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return {}


def _option_text(element: dict[str, Any], value: str) -> dict[str, Any]:
    """Text object of the chosen option, taken from the element when it is known."""
    for option in element.get("options") or []:
        if option.get("value") == value:
            return dict(option["text"])
    return {"type": "plain_text", "text": value, "emoji": True}


def signed_block_action(secret: str, *, timestamp: int | None = None, **fields: Any) -> Signed:
    """A `block_actions` interaction as Slack POSTs it; `fields` go to block_action_payload."""
    return _payload_request(secret, block_action_payload(**fields), timestamp)


def block_action_payload(
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    selected_option_value: str | None = None,
    channel_id: str,
    message_ts: str,
    message: dict[str, Any] | None = None,
    block_id: str = "b",
    response_url: str | None = None,
    view: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    action_ts: str | None = None,
    user_name: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
) -> dict[str, Any]:
    """A `block_actions` interaction: a button click, or a static_select choice if given.

    With `view` (an App Home or modal view), the click came from that view, as Slack sends
    it: a view container and no response_url.
    """
    element = _find_element(view if view is not None else message, action_id)
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": action_ts or _event_ts(),
    }
    if selected_option_value is not None:
        action["type"] = "static_select"
        action["selected_option"] = {
            "text": _option_text(element, selected_option_value),
            "value": selected_option_value,
        }
    else:
        action["type"] = "button"
        action["text"] = element.get("text") or {"type": "plain_text", "text": action_id}
        if value is not None:
            action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": interaction_user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": f"channel-{channel_id.lower()}"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["message"] = {"ts": message_ts, **message}
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "VHOME")}
        payload["view"] = {"id": "VHOME", **view}
        payload.pop("response_url")
        payload.pop("channel")
    return payload


def signed_block_suggestion(
    secret: str,
    *,
    user_id: str,
    action_id: str,
    value: str,
    block_id: str = "b",
    channel_id: str | None = None,
    message_ts: str | None = None,
    user_name: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    timestamp: int | None = None,
) -> Signed:
    """A `block_suggestion` options-load request for an external_select as the user types."""
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": interaction_user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": f"channel-{channel_id.lower()}"}
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
    return _payload_request(secret, payload, timestamp)


def signed_view_submission(
    secret: str,
    *,
    user_id: str,
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    view_id: str = "V00000001",
    user_name: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    timestamp: int | None = None,
) -> Signed:
    """A `view_submission` for a modal; `values` is state.values ({block_id: {action_id: ...}})."""
    full_view = {
        "id": view_id,
        "team_id": team_id,
        "app_id": api_app_id,
        "private_metadata": "",
        "callback_id": "",
        **view,
        "state": {"values": values},
    }
    payload: dict[str, Any] = {
        "type": "view_submission",
        "user": interaction_user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": full_view,
        "response_urls": [],
    }
    return _payload_request(secret, payload, timestamp)


def signed_slash_command(secret: str, *, timestamp: int | None = None, **fields: Any) -> Signed:
    """A slash command as Slack POSTs it; `fields` go to slash_command_fields."""
    return _form_request(secret, slash_command_fields(**fields), timestamp)


def slash_command_fields(
    *,
    command: str = "/triage",
    text: str,
    user_id: str,
    user_name: str = "alice",
    channel_id: str = "C0001",
    channel_name: str | None = None,
    response_url: str,
    trigger_id: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
) -> dict[str, str]:
    """The fields Slack sends for a slash command (form-encoded over HTTP, JSON in Socket Mode)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": channel_name or f"channel-{channel_id.lower()}",
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
