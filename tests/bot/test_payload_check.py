"""The shape check in front of Bolt: what Slack sends passes, what it never sends is named."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.listeners.payload_check import refusal
from bot.sandbox.slack.signing import (
    block_action_payload,
    interaction_user,
    slash_command_fields,
)

FORM = "application/x-www-form-urlencoded"
USER = interaction_user("UAGENT", None, "T0001")


def interaction(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_what_slack_sends_passes() -> None:
    click = block_action_payload(
        user_id="UAGENT", action_id="review_pick", value="7", channel_id="C1", message_ts="1.2"
    )
    command = slash_command_fields(text="stats", user_id="UADMIN", response_url="https://x")
    event = {"type": "event_callback", "event": {"type": "message", "text": "hi", "ts": "1.2"}}
    assert refusal(interaction(click), FORM) is None
    assert refusal(urlencode(command).encode(), FORM) is None
    assert refusal(json.dumps(event).encode(), "application/json") is None


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (interaction({"type": "block_actions", "user": USER}), FORM, "actions is missing"),
        (
            interaction({"type": "block_actions", "actions": [{"action_id": "a"}]}),
            FORM,
            "user is missing",
        ),
        (
            b'{"type": "event_callback", "event": "message"}',
            "application/json",
            "event must be an object",
        ),
        (b"[1, 2]", "application/json", "payload is not an object"),
        (b'{"type": "url_verification"}', "application/json", "challenge is missing"),
        (b'{"type": "x", "user": "\\ud800"}', "application/json", "lone surrogate"),
        (b"\xff\xfe", FORM, "not UTF-8"),
        (b"payload=%7B", FORM, "not JSON"),
        (b"[" * 100 + b"]" * 100, "application/json", "not an object"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "application/json", "nests too deeply"),
        (b"command=%2Ftriage&text=stats", FORM, "user_id is missing"),
    ],
)
def test_what_slack_never_sends_is_named(body: bytes, content_type: str, reason: str) -> None:
    found = refusal(body, content_type)
    assert found is not None and reason in found, found
