"""The alert ops get when a ticket callback is given up (dead-lettered).

Raised by whichever process was delivering (web or worker), in the transaction that gives
the callback up. It is rate-limited under one key: a receiver that is down for a day gives
one message in the alerts channel, counting the callbacks given up since ("happened 40 more
times"), not one message per ticket.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity
from bot.settings import Settings
from bot.words import counted
from jobs.alerts import raise_alert

KEY = "callback-dead-letter"


def origin_of(url: str | None) -> str:
    """`https://host:port` of a callback URL: its path may hold the receiver's own token."""
    parts = urlsplit(url or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname
    if not host:
        return "an unreadable URL"
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")


def alert_callback_given_up(
    *,
    ticket_id: int | None,
    url: str | None,
    attempts: int,
    error: str,
    session: Session,
    settings: Settings,
    now: datetime,
) -> bool:
    """Tell ops a callback will not be tried again until an admin retries it."""
    return raise_alert(
        KEY,
        Severity.FAILURE,
        f"Helpdesk callback given up: ticket #{ticket_id} to {origin_of(url)} after "
        f"{counted(attempts, 'attempt')}",
        what_to_do="Check that the receiver is up and accepts callbacks, then "
        "`/triage callbacks retry all` (or `triage callbacks retry all` in a shell).",
        details=[f"Last error: {error}"],
        session=session,
        settings=settings,
        now=now,
    )
