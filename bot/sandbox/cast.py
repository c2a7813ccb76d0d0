"""Who and what is in the sandbox workspace: one admin, two support agents, the bot's channels.

Fixed ids, so a link, a test or a screenshot can name them (Slack ids look like these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Person:
    """A member of the sandbox workspace; `admin` ones are in TRIAGE_ADMINS."""

    id: str
    name: str
    real_name: str
    title: str
    admin: bool = False


ADMIN = Person("U01ADA", "ada", "Ada Lovelace", "Triage admin", admin=True)
AGENT = Person("U01SAM", "sam", "Sam Okafor", "Support agent")
OTHER_AGENT = Person("U01PRIYA", "priya", "Priya Raman", "Support agent")
PEOPLE = (ADMIN, AGENT, OTHER_AGENT)

REVIEW = ("C01REVIEW", "triage-review", "Tickets the model is unsure of, and blind audits")
ALERTS = ("C01ALERTS", "triage-alerts", "Alerts and the daily digest for ops")
INTAKE = ("C01INTAKE", "triage-intake", "Every new message here becomes a ticket")
CHANNELS = (REVIEW, ALERTS, INTAKE)


def users() -> dict[str, dict[str, Any]]:
    """The people as the fake's users.info describes them."""
    return {p.id: {"name": p.name, "real_name": p.real_name, "title": p.title} for p in PEOPLE}


def channels() -> dict[str, dict[str, Any]]:
    """The bot's channels as conversations.info describes them."""
    return {cid: {"name": name, "topic": topic} for cid, name, topic in CHANNELS}
