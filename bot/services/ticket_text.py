"""The rules a ticket text must meet, shared by the API, Slack intake and CSV import."""

from __future__ import annotations

from typing import Any

from bot.errors import InvalidInput

MAX_TEXT_LENGTH = 20_000
MAX_LABEL_LENGTH = 100


class TextProblem(InvalidInput):
    """Why a text cannot become a ticket, in words fit for a summary or an HTTP 422."""


def clean_ticket_text(raw: str) -> str:
    """Trim the text and check it; the text is otherwise stored exactly as received.

    NUL is refused rather than silently removed: PostgreSQL cannot store it, and changing
    what a customer wrote without saying so would be worse than a clear refusal.
    """
    text = raw.strip()
    if not text:
        raise TextProblem("empty text")
    if "\x00" in text:
        raise TextProblem("text contains a NUL character")
    if len(text) > MAX_TEXT_LENGTH:
        raise TextProblem(f"text longer than {MAX_TEXT_LENGTH:,} characters")
    return text


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds NUL in any string, dict key included, at any depth.

    Every field is held to the text's rule: PostgreSQL refuses NUL in text columns, and a
    value that only one of the two supported databases can store is refused on both.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
