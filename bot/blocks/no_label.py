"""The "None of these…" modal: no label fits the ticket, and what the missing one might be."""

from __future__ import annotations

from typing import Any

from bot.blocks import ids
from bot.blocks.text import shorten

TITLE = "None of these"


def build_no_label_modal(ticket_id: int) -> dict[str, Any]:
    """Ask for an optional name; the ticket id travels in the view's private metadata."""
    return {
        "type": "modal",
        "callback_id": ids.NO_LABEL_VIEW,
        "private_metadata": str(ticket_id),
        "title": {"type": "plain_text", "text": TITLE},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": shorten(
                        f"No label fits ticket #{ticket_id}. Your answer teaches the model "
                        "what its labels do not cover; it is never applied as a label.",
                        3_000,
                    ),
                },
            },
            {
                "type": "input",
                "block_id": ids.PROPOSED_LABEL_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "A name for the missing label"},
                "hint": {
                    "type": "plain_text",
                    "text": "Optional. Admins see it in the label suggested for tickets like this.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.PROPOSED_LABEL_INPUT,
                    "max_length": 100,
                    "placeholder": {"type": "plain_text", "text": "e.g. vault_transfer"},
                },
            },
        ],
    }
