"""`POST /api/tickets/batch`: up to 500 tickets in one request, for backfills.

Each ticket is validated and answered on its own, in order: `{"index", "status", "ticket"}`
with 201 (created) or 200 (already stored for its source and external id, by an earlier
request or earlier in this batch), or `{"index", "status", "error"}` with the problem that
concerns that ticket alone. Valid tickets go through `Deps.submit_tickets`, the same
micro-batched intake as the single endpoint: one classifier call and one transaction. Only a
body that is not `{"tickets": [...]}` (400), too many tickets or too many bytes (413), a bad
token (401) or a database that could store none of them (503) fail the whole request.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.auth import require_token
from bot.api.errors import INTERNAL_ERROR, problem_body, problem_for
from bot.api.json_body import MalformedJson
from bot.api.tickets import PayloadTooLarge, read_json
from bot.deps import Deps
from bot.errors import TriageError
from bot.services.intake import IntakeResult, validate_new_ticket
from bot.services.intake_batch import BatchNotStored, Submission
from bot.services.ticket_view import public_view

log = logging.getLogger(__name__)

MAX_TICKETS = 500
TICKET_FIELDS = ("text", "source", "external_id", "subject", "callback_url", "metadata")
# 500 tickets of ordinary size (a few KB each) with room to spare; a single ticket may be
# up to 256 KiB, so a batch of such giants must be split.
MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024


class TooManyTickets(TriageError):
    """More tickets in one batch than MAX_TICKETS."""

    status = 413


def item_problem(error: BaseException) -> dict[str, Any]:
    """The RFC 9457 problem of one refused ticket: the same object the single endpoint
    answers with (its `field`, its `error` member for older clients)."""
    if isinstance(error, TriageError):
        return problem_for(error)
    return problem_body(INTERNAL_ERROR, 500)


def parse_batch(body: dict[str, Any]) -> list[Any]:
    """The list of ticket objects, or the reason the whole body is refused."""
    tickets = body.get("tickets")
    if not isinstance(tickets, list) or not tickets:
        raise MalformedJson('The body must be {"tickets": [ticket, ...]} with 1 to 500 tickets.')
    if len(tickets) > MAX_TICKETS:
        raise TooManyTickets(
            f"{len(tickets)} tickets in one batch; send at most {MAX_TICKETS} per request."
        )
    return tickets


def create_batch_endpoint(deps: Deps) -> Any:
    """POST: 200 with one result per ticket, in the order sent."""

    async def create_batch(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        try:
            body = await read_json(request, limit=MAX_BATCH_BODY_BYTES)
        except PayloadTooLarge:
            raise PayloadTooLarge(
                f"The body is larger than {MAX_BATCH_BODY_BYTES // (1024 * 1024)} MiB; "
                "send fewer tickets per request."
            ) from None
        items = parse_batch(body)
        results: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, Submission]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise MalformedJson("Each ticket must be a JSON object.")
                new = validate_new_ticket(**{name: item.get(name) for name in TICKET_FIELDS})
            except TriageError as error:
                results[index] = refused(index, error)
            else:
                valid.append((index, Submission(new)))
        answers = await deps.submit_tickets([submission for _, submission in valid])
        first = answers[0] if answers else None
        if isinstance(first, BatchNotStored) and all(a is first for a in answers):
            raise first  # nothing was stored: the whole request is to be retried
        for (index, _), answer in zip(valid, answers, strict=True):
            results[index] = (
                {
                    "index": index,
                    "status": 201 if answer.created else 200,
                    "ticket": public_view(answer.ticket),
                }
                if isinstance(answer, IntakeResult)
                else refused(index, answer)
            )
        return JSONResponse({"results": results})

    return create_batch


def refused(index: int, error: BaseException) -> dict[str, Any]:
    """One ticket's result when it was not taken in."""
    problem = item_problem(error)
    if problem["status"] >= 500:
        log.warning(
            "batch ticket not taken in",
            extra={"index": index, "status": problem["status"], "error": type(error).__name__},
        )
    return {"index": index, "status": problem["status"], "error": problem}
