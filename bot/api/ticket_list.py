"""`GET /api/tickets`: list tickets by status, decision, label, source and creation time, a
page at a time, and find one by `source` + `external_id`."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.auth import require_token
from bot.api.params import bounded, moment, one_of, text
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.intake import MAX_EXTERNAL_ID_LENGTH, MAX_SOURCE_LENGTH
from bot.services.ticket_search import TicketFilter, decode_cursor, list_tickets
from bot.services.ticket_view import public_view
from classifier import Decision
from storage.database import unit_of_work
from storage.models import TicketStatus

MAX_PAGE = 500
DEFAULT_PAGE = 50
FILTERS = frozenset(
    {"status", "decision", "label", "source", "external_id", "created_after", "created_before"}
)
KNOWN_PARAMETERS = FILTERS | {"limit", "cursor"}


def ticket_filter(params: Any) -> TicketFilter:
    """The filter a query string asks for; an unknown parameter is refused, not ignored, so a
    misspelt filter never silently lists everything."""
    unknown = sorted(set(params) - KNOWN_PARAMETERS)
    if unknown:
        raise InvalidInput(f"Unknown query parameter {unknown[0]!r}.", field=unknown[0])
    status = one_of(params.get("status"), "status", (s.value for s in TicketStatus))
    decision = one_of(params.get("decision"), "decision", (d.value for d in Decision))
    source = text(params.get("source"), "source", MAX_SOURCE_LENGTH)
    external_id = text(params.get("external_id"), "external_id", MAX_EXTERNAL_ID_LENGTH)
    return TicketFilter(
        status=None if status is None else TicketStatus(status),
        decision=None if decision is None else Decision(decision),
        label=text(params.get("label"), "label", 100),
        # Stored trimmed at intake, so looked up trimmed.
        source=None if source is None else source.strip(),
        external_id=None if external_id is None else external_id.strip(),
        created_after=moment(params.get("created_after"), "created_after"),
        created_before=moment(params.get("created_before"), "created_before"),
    )


def list_tickets_endpoint(deps: Deps) -> Any:
    """GET: one page of matching tickets, oldest first, with the cursor of the next page."""

    async def list_page(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        params = request.query_params
        where = ticket_filter(params)
        limit = bounded(params.get("limit"), "limit", DEFAULT_PAGE, MAX_PAGE)
        cursor = params.get("cursor")
        after = 0 if not cursor else decode_cursor(cursor)

        def page() -> dict[str, Any]:
            with unit_of_work(deps.factory) as session:
                tickets, following = list_tickets(where, session=session, after=after, limit=limit)
                return {"tickets": [public_view(t) for t in tickets], "next_cursor": following}

        return JSONResponse(await asyncio.to_thread(page))

    return list_page
