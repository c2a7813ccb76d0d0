"""A local Slack: fake Web API and Socket Mode, request builders, Block Kit checks.

The test suite and `triage sandbox` use this one implementation.
"""

from __future__ import annotations

from .blockkit import assert_valid_message, assert_valid_view
from .records import RecordedCall
from .server import APP_TOKEN, FakeSlack
from .signing import (
    block_action_payload,
    sign,
    signed_app_home_opened,
    signed_block_action,
    signed_block_suggestion,
    signed_event,
    signed_slash_command,
    signed_url_verification,
    signed_view_submission,
    slash_command_fields,
)
from .socket_mode import SocketConnection

__all__ = [
    "APP_TOKEN",
    "FakeSlack",
    "RecordedCall",
    "SocketConnection",
    "assert_valid_message",
    "assert_valid_view",
    "block_action_payload",
    "sign",
    "signed_app_home_opened",
    "signed_block_action",
    "signed_block_suggestion",
    "signed_event",
    "signed_slash_command",
    "signed_url_verification",
    "signed_view_submission",
    "slash_command_fields",
]
