"""Safe text for Slack: user text is escaped, cut to Slack's limits, and never pings anyone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.services.actors import helpdesk_agent

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


def person(actor: str) -> str:
    """Who answered: a mention for a Slack user, the agent's name for a label sent back from
    the helpdesk (`helpdesk:ann`), which is no Slack user and must not be written as one."""
    agent = helpdesk_agent(actor)
    return f"<@{actor}>" if agent is None else f"{escape(agent)} (helpdesk)"


TEXT_REMOVED = "_The text of this ticket was removed._"


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


def utc_text(moment: datetime) -> str:
    """`2026-11-23 12:00 UTC`: a moment where no reader's time zone is known."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def slack_time(moment: datetime, token: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: each reader sees it in their own time zone (`{ago}` stays fresh)."""
    return f"<!date^{int(moment.timestamp())}^{token}|{utc_text(moment)}>"


@dataclass(frozen=True)
class Marks:
    """How a surface shows what its sentences quote, so Slack and the command line share
    wording: Slack escapes names, links channels, dates moments in the reader's zone and
    bolds heads; a terminal shows them as they are (`bot.blocks.plain.PLAIN`)."""

    name: Callable[[str], str]  # a label or person's name
    channel: Callable[[str], str]  # a channel id or name
    since: Callable[[datetime], str]  # a past moment, as "since …" reads it
    strong: Callable[[str], str]  # a heading
