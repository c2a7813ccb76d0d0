"""New-topic label suggestions, as admins see them in App Home and `/triage labels suggest`."""

from __future__ import annotations

from typing import Any

from bot.blocks import ids
from bot.blocks.text import escape, shorten
from bot.services.topics import TopicSummary
from bot.words import counted

SHOWN = 5  # suggestions listed at once; the rest are counted


def _button(action_id: str, text: str, topic_id: int, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": str(topic_id),
    }
    return button | ({"style": style} if style else {})


def suggestion_blocks(suggestions: list[TopicSummary]) -> list[dict[str, Any]]:
    """One section and its buttons per open topic, newest first."""
    if not suggestions:
        return [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "No new topics: no label to suggest."},
            }
        ]
    blocks: list[dict[str, Any]] = []
    for topic in suggestions[:SHOWN]:
        examples = " · ".join(f"“{escape(text)}”" for text in topic.examples)
        waiting = f", {topic.pending} waiting" if topic.pending else ""
        line = (
            f"Suggested label *{escape(topic.proposed_label)}* · "
            f"{counted(topic.tickets, 'ticket')}{waiting} · topic #{topic.topic_id}\n"
            f"e.g. {examples}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": shorten(line, 3_000)}})
        blocks.append(
            {
                "type": "actions",
                "block_id": f"topic:{topic.topic_id}",
                "elements": [
                    _button(ids.TOPIC_CREATE, "Create and re-ask", topic.topic_id, "primary"),
                    _button(ids.TOPIC_DISMISS, "Dismiss", topic.topic_id),
                ],
            }
        )
    if len(suggestions) > SHOWN:
        more = counted(len(suggestions) - SHOWN, "more suggestion")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{more}."}]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Create and re-ask adds the label and asks its tickets again with it "
                    "offered first; `/triage labels suggest create ID NAME` picks another name.",
                }
            ],
        }
    )
    return blocks


def build_suggestions_reply(suggestions: list[TopicSummary]) -> dict[str, Any]:
    """The private answer to `/triage labels suggest`."""
    count = counted(len(suggestions), "label suggestion")
    return {"text": f"{count} from new topics", "blocks": suggestion_blocks(suggestions)}
