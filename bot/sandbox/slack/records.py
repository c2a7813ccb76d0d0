"""Plain records the fake keeps so tests can assert on what the client really sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received, kept so tests can assert on calls and retries."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    faulty: bool = False
    body: bytes = b""  # exactly as received, for checks over the raw bytes (signatures)

    @property
    def ok(self) -> bool:
        """Whether Slack would have reported success, so tests need not dig into `response`."""
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class Fault:
    """A queued bad answer for one method, so tests can rehearse Slack misbehaving."""

    status: int
    error: str
    retry_after: int | str | None = None
    retry_after_header: str = "Retry-After"
    remaining: int = 1
    headers: dict[str, str] = field(default_factory=dict)  # more to answer with (Location)
