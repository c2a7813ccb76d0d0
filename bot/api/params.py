"""Query-string and path parameters, read strictly: each bad value is a 422 naming it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.errors import InvalidInput, NotFound

MAX_ID_DIGITS = 9  # ids fit a 32-bit integer column on every database


def path_ticket_id(raw: str) -> int:
    """A ticket id from the path; anything that cannot be one is simply not found."""
    if not (raw.isdigit() and len(raw) <= MAX_ID_DIGITS):
        raise NotFound(f"There is no ticket {raw}.")
    return int(raw)


def moment(raw: str | None, name: str) -> datetime | None:
    """An ISO date or date-time (UTC when it names no zone), or None when absent."""
    if raw is None or raw == "":
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not an ISO date or date-time.", field=name) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def bounded(raw: str | None, name: str, default: int, high: int) -> int:
    """A whole number from 1 to `high`, or `default` when absent."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from 1 to {high}.", field=name)
    return int(raw)


def one_of(raw: str | None, name: str, allowed: Iterable[str]) -> str | None:
    """One of `allowed`, or None when absent."""
    if raw is None or raw == "":
        return None
    choices = list(allowed)
    if raw not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}.", field=name)
    return raw


def text(raw: str | None, name: str, longest: int) -> str | None:
    """A non-empty string of at most `longest` characters, or None when absent."""
    if raw is None or raw == "":
        return None
    if len(raw) > longest or "\x00" in raw:
        raise InvalidInput(f"{name} must be at most {longest} characters, without NUL.", field=name)
    return raw
