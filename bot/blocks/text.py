"""Safe text for Slack: user text is escaped, cut to Slack's limits, and never pings anyone."""

from __future__ import annotations

from datetime import datetime

SECTION_LIMIT = 3_000
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75
PREVIEW_CHARS = 1_500


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (`<!channel>`, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of a message it sends us (`&amp;` last, so `&amp;lt;` is `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shorten(text: str, limit: int, marker: str = "…") -> str:
    """Cut `text` to at most `limit` characters, ending with `marker` when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def quote(text: str, *, limit: int = PREVIEW_CHARS, cut_note: str = "") -> str:
    """The ticket text as an escaped mrkdwn block quote, cut before escaping grows it."""
    cut = len(text) > limit
    body = escape(text[:limit] + ("…" if cut else ""))
    quoted = "\n".join("> " + line for line in body.splitlines() or [""])
    if cut and cut_note:
        quoted += f"\n_{cut_note}_"
    return shorten(quoted, SECTION_LIMIT)


def chunks(text: str, size: int) -> list[str]:
    """Split escaped text into pieces of at most `size` characters without breaking an entity."""
    pieces, current = [], ""
    for char in text:
        piece = escape(char)
        if len(current) + len(piece) > size:
            pieces.append(current)
            current = ""
        current += piece
    if current:
        pieces.append(current)
    return pieces


def slack_time(moment: datetime, token: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: each reader sees it in their own time zone (`{ago}` stays fresh)."""
    return f"<!date^{int(moment.timestamp())}^{token}|{moment:%Y-%m-%d %H:%M} UTC>"
