"""Ops alerts: one line saying what happened, one saying what to do, then the details."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.blocks.text import SECTION_LIMIT, counted, shorten


class Severity(StrEnum):
    """Shown as the leading emoji, so the channel can be scanned at a glance."""

    INFO = "ℹ️"
    WARNING = "⚠️"
    FAILURE = "🚨"


def build_alert(
    severity: Severity,
    headline: str,
    *,
    what_to_do: str = "",
    details: list[str] | None = None,
    repeats: int = 0,
) -> dict[str, Any]:
    """An alert message; `repeats` counts occurrences held back by the rate limit."""
    first = f"{severity.value}  *{headline}*"
    if repeats:
        first += f" _(happened {counted(repeats, 'more time')} since the last alert)_"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": shorten(first, SECTION_LIMIT)}}
    ]
    if what_to_do:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*What to do:* {what_to_do}"}}
        )
    if details:
        text = shorten("\n".join(f"• {line}" for line in details), SECTION_LIMIT)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": f"{severity.value} {headline}", "blocks": blocks}
