"""Offline Slack for tests: a fake Web API server, signed request builders, Block Kit checks."""

from __future__ import annotations

from .blockkit import assert_valid_message, assert_valid_view
from .plugin import SIGNING_SECRET
from .records import RecordedCall
from .server import FakeSlack
from .signing import (
    sign,
    signed_app_home_opened,
    signed_block_action,
    signed_block_suggestion,
    signed_event,
    signed_slash_command,
    signed_url_verification,
    signed_view_submission,
)

__all__ = [
    "SIGNING_SECRET",
    "FakeSlack",
    "RecordedCall",
    "assert_valid_message",
    "assert_valid_view",
    "sign",
    "signed_app_home_opened",
    "signed_block_action",
    "signed_block_suggestion",
    "signed_event",
    "signed_slash_command",
    "signed_url_verification",
    "signed_view_submission",
]
