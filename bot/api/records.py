"""`GET /api/export` and `DELETE /api/tickets/{id}`: the helpdesk's copy of the labelled data,
and erasure of one ticket's text everywhere (Slack messages included)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.auth import require_token
from bot.api.params import bounded, moment, path_ticket_id
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.erasure import erase_ticket, find_ticket
from bot.services.export import export_page
from storage.database import unit_of_work

API_ACTOR = "api"  # who the audit log says erased a ticket through the API
MAX_PAGE = 1_000
DEFAULT_PAGE = 100


def export_endpoint(deps: Deps) -> Any:
    """GET: one page of the export, oldest first, with the cursor of the next page."""

    async def export(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        params = request.query_params
        since = moment(params.get("since"), "since")
        limit = bounded(params.get("limit"), "limit", DEFAULT_PAGE, MAX_PAGE)
        cursor = params.get("cursor") or "0"
        if not cursor.isdigit() or len(cursor) > 18:
            raise InvalidInput("cursor must be the next_cursor of a previous page.", field="cursor")

        def page() -> list[dict[str, Any]]:
            with unit_of_work(deps.factory) as session:
                return export_page(session=session, since=since, after=int(cursor), limit=limit)

        tickets = await asyncio.to_thread(page)
        following = str(tickets[-1]["id"]) if len(tickets) == limit else None
        return JSONResponse({"tickets": tickets, "next_cursor": following})

    return export


def erase_ticket_endpoint(deps: Deps) -> Any:
    """DELETE: erase the ticket's text, subject and metadata; idempotent."""

    async def erase(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        ticket_id = path_ticket_id(request.path_params["ticket_id"])

        def run() -> dict[str, Any]:
            with unit_of_work(deps.factory) as session:
                ticket = find_ticket(session=session, ticket_id=ticket_id)
                done = erase_ticket(ticket, session=session, now=deps.now(), actor=API_ACTOR)
                return {
                    "id": done.ticket_id,
                    "erased": True,
                    "erased_at": done.erased_at.isoformat(),
                    "slack_messages_edited": done.slack_edits,
                }

        body = await asyncio.to_thread(run)
        deps.wake_deliveries()
        return JSONResponse(body)

    return erase
