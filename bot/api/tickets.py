"""`POST /api/tickets` and `GET /api/tickets/{id}`: parse, call the intake service, render."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.auth import require_token
from bot.api.json_body import MalformedJson, check_json_object, finite_float, refuse_constant
from bot.api.params import path_ticket_id
from bot.deps import Deps
from bot.errors import NotFound, TriageError
from bot.services.intake import validate_new_ticket
from bot.services.ticket_view import public_view
from storage.database import unit_of_work
from storage.models import Ticket

# 20,000 characters of text can be 80 KB of UTF-8; leave room for subject and metadata.
MAX_BODY_BYTES = 256 * 1024


class PayloadTooLarge(TriageError):
    """The body is larger than any valid ticket."""

    status = 413


async def read_json(request: Request, *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object, refusing bodies over `limit` bytes before reading them whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit // 1024} KiB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit // 1024} KiB.")
    body = b"".join(chunks)
    try:
        parsed = json.loads(body, parse_constant=refuse_constant, parse_float=finite_float)
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, over-long integers
        raise MalformedJson(f"The body is not valid JSON: {error}") from None
    except RecursionError:
        raise MalformedJson("The body is nested too deeply to read.") from None
    if not isinstance(parsed, dict):
        raise MalformedJson("The body must be a JSON object.")
    check_json_object(parsed)
    return parsed


def ticket_location(ticket_id: int) -> str:
    """Where a created ticket is read from (the `Location` of a 201)."""
    return f"/api/tickets/{ticket_id}"


def create_ticket_endpoint(deps: Deps) -> Any:
    """POST: 201 with the new ticket, or 200 with the one already made for this external id."""

    async def create_ticket(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        fields = await read_json(request)
        new = validate_new_ticket(
            text=fields.get("text"),
            source=fields.get("source"),
            external_id=fields.get("external_id"),
            subject=fields.get("subject"),
            callback_url=fields.get("callback_url"),
            metadata=fields.get("metadata"),
        )

        result = await deps.submit_ticket(new)
        if not result.created:
            return JSONResponse(public_view(result.ticket))
        location = {"Location": ticket_location(result.ticket.id)}
        return JSONResponse(public_view(result.ticket), status_code=201, headers=location)

    return create_ticket


def get_ticket_endpoint(deps: Deps) -> Any:
    """GET: the ticket's status, label, who decided and when."""

    async def get_ticket(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        raw_id = request.path_params["ticket_id"]

        ticket_id = path_ticket_id(raw_id)

        def load() -> dict[str, Any] | None:
            with unit_of_work(deps.factory) as session:
                ticket = session.get(Ticket, ticket_id)
                return None if ticket is None else public_view(ticket)

        body = await asyncio.to_thread(load)
        if body is None:
            raise NotFound(f"There is no ticket {raw_id}.")
        return JSONResponse(body)

    return get_ticket
