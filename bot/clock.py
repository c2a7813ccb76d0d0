"""The wall clock, in one place so services can take `now` and tests can pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (the only kind the database stores)."""
    return datetime.now(UTC)
