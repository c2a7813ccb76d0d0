"""Turn the words of a `/triage` command into typed values, or say what is wrong."""

from __future__ import annotations

import re

from bot.errors import InvalidInput

PERIODS = {"1d": 1, "7d": 7, "30d": 30}
DEFAULT_PERIOD = 7
_CHANNEL_ESCAPED = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#?([a-z0-9][a-z0-9_-]{0,79})$")


def words(text: str) -> list[str]:
    """Split command text, undoing Slack's escaping of & < > (channel mentions stay `<#C…>`)."""
    return [
        word.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for word in text.split()
    ]


def expect(args: tuple[str, ...], low: int, high: int | None = None) -> None:
    """Refuse too few or too many words."""
    if len(args) < low or (high is not None and len(args) > high):
        raise InvalidInput("Wrong number of arguments.")


def period(args: tuple[str, ...]) -> int:
    """`1d`, `7d` or `30d` (7 days when left out)."""
    expect(args, 0, 1)
    if not args:
        return DEFAULT_PERIOD
    if args[0].lower() not in PERIODS:
        raise InvalidInput(f"`{args[0]}` is not a period: use 1d, 7d or 30d.")
    return PERIODS[args[0].lower()]


def share(word: str, what: str = "value") -> float:
    """A number from 0 to 1, also written as a percentage (`0.85` or `85%`)."""
    text = word.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"The {what} `{word}` must be a number from 0 to 1 (or 0–100%).")
    return value


def whole(word: str, what: str = "value") -> int:
    """A positive whole number."""
    if not word.isdigit():
        raise InvalidInput(f"The {what} `{word}` must be a whole number.")
    return int(word)


def ticket(word: str) -> int | None:
    """A ticket id as `7` or `#7`, or None for `all` (every ticket)."""
    if word.lower() == "all":
        return None
    return whole(word.removeprefix("#"), "ticket")


def version(word: str) -> int:
    """A model version as `7` or `v7`."""
    return whole(word[1:] if word.lower().startswith("v") else word, "version")


def channel(word: str) -> str:
    """A channel as Slack escapes it (`<#C0123|name>`), an id (`C0123`) or a name (`#name`)."""
    if match := _CHANNEL_ESCAPED.match(word):
        return match.group(1)
    if _CHANNEL_ID.match(word):
        return word
    if match := _CHANNEL_NAME.match(word):
        return match.group(1)
    raise InvalidInput(f"`{word}` is not a channel: pick one with `#`.")
