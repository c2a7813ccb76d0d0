"""Listing tickets for a helpdesk: filters, and keyset pagination by id as the export reads.

Paging on the id (never an offset) keeps every page as cheap as the first and never skips
or repeats a ticket while new ones arrive: they have higher ids and appear on later pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from classifier import Decision
from storage.models import Ticket, TicketStatus

_CURSOR_PREFIX = "t1:"  # a version mark, so the cursor's form can change without confusion


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets to list; None matches any. `created_after` is inclusive and
    `created_before` exclusive, so consecutive windows neither overlap nor leave gaps."""

    status: TicketStatus | None = None
    decision: Decision | None = None
    label: str | None = None
    source: str | None = None
    external_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def encode_cursor(last_id: int) -> str:
    """The opaque cursor of the page after the ticket `last_id`."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues after; a cursor this API did not make is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise InvalidInput("cursor must be the next_cursor of a previous page.", field="cursor")
    return int(digits)


def list_tickets(
    where: TicketFilter, *, session: Session, after: int, limit: int
) -> tuple[list[Ticket], str | None]:
    """Up to `limit` matching tickets with an id above `after`, oldest first, and the cursor
    of the next page (None on the last one)."""
    query = select(Ticket).where(Ticket.id > after).order_by(Ticket.id).limit(limit + 1)
    conditions = {
        Ticket.status: where.status,
        Ticket.decision: where.decision,
        Ticket.final_label: where.label,
        Ticket.source: where.source,
        Ticket.external_id: where.external_id,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if where.created_after is not None:
        query = query.where(Ticket.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(Ticket.created_at < where.created_before)
    found = list(session.scalars(query))
    if len(found) <= limit:
        return found, None
    page = found[:limit]
    return page, encode_cursor(page[-1].id)
