"""Ops alerts: one line saying what happened, one saying what to do, then the details."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.text import SECTION_LIMIT, shorten, slack_time
from bot.services.alerts_channel import Severity
from bot.words import counted

SEVERITY_EMOJI = {Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.FAILURE: "🚨"}


def build_alert(
    severity: Severity,
    headline: str,
    *,
    what_to_do: str = "",
    details: list[str] | None = None,
    repeats: int = 0,
    last_seen: datetime | None = None,
) -> dict[str, Any]:
    """An alert message; `repeats` counts later occurrences edited into it by the rate limit
    (the content then is the newest occurrence's, seen at `last_seen`)."""
    first = f"{SEVERITY_EMOJI[severity]}  *{headline}*"
    if repeats:
        latest = f", latest {slack_time(last_seen, '{time}')}" if last_seen else ""
        first += f" _(happened {counted(repeats, 'more time')}{latest})_"
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
    return {"text": f"{SEVERITY_EMOJI[severity]} {headline}", "blocks": blocks}


def build_alert_from(
    content: dict[str, Any], *, repeats: int = 0, last_seen: datetime | None = None
) -> dict[str, Any]:
    """The message for stored alert content (see `bot.services.alerts_channel.alert_content`)."""
    return build_alert(
        Severity[content["severity"]],
        content["headline"],
        what_to_do=content.get("what_to_do", ""),
        details=content.get("details"),
        repeats=repeats,
        last_seen=last_seen,
    )
