"""Every HTTP error is an RFC 9457 problem: `application/problem+json` with `type`, `title`,
`status` and `detail`, the invalid field in `field`, and never a traceback.

The body also keeps `error` (the same words as `detail`), which clients written before
problem details read, and the request id, the key to the request's log lines.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.request_ids import current_request_id
from bot.errors import Conflict, InvalidInput, TriageError
from classifier.errors import ClassifierError
from storage.errors import StorageError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal error; the details are in the logs."
PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:triage-loop:problem:"  # stable names, listed in the README and OpenAPI

# The problem type and title of each status the API answers with.
PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("malformed-request", "The request is malformed"),
    401: ("unauthorized", "Missing or invalid API token"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflicts with the ticket's state"),
    413: ("too-large", "Request too large"),
    422: ("invalid-field", "A field is invalid"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


class ProblemResponse(JSONResponse):
    """A JSON response sent as `application/problem+json`."""

    media_type = PROBLEM_JSON


def problem_body(detail: str, status: int, **members: Any) -> dict[str, Any]:
    """The problem object for `status` (also what a batch item's `error` holds)."""
    slug, title = PROBLEMS.get(status, ("error", "Error"))
    return {
        "type": TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "error": detail,
        "request_id": current_request_id(),
        **members,
    }


def error_response(reason: str, status: int, **members: Any) -> JSONResponse:
    """A problem-details answer with `status`; `members` are extension members (`field`)."""
    return ProblemResponse(problem_body(reason, status, **members), status_code=status)


def http_status(error: TriageError) -> int:
    """The bot's errors name their status; a storage or model problem is ours, not the caller's."""
    if isinstance(error, StorageError):
        return 503
    if isinstance(error, ClassifierError):
        return 500
    return int(getattr(error, "status", 400))


def error_members(error: TriageError) -> dict[str, Any]:
    """The extension members an error carries: the invalid field, a conflict's state."""
    if isinstance(error, InvalidInput):
        return {} if error.field is None else {"field": error.field}
    if isinstance(error, Conflict):
        return dict(error.members)
    return {}


def problem_for(error: TriageError) -> dict[str, Any]:
    """The problem object describing `error`."""
    return problem_body(error.reason, http_status(error), **error_members(error))


async def triage_error_response(_request: Request, error: Exception) -> JSONResponse:
    """Every error of the family becomes a problem with its reason, never a traceback."""
    assert isinstance(error, TriageError)
    body = problem_for(error)
    if body["status"] >= 500:
        log.warning("request refused", extra={"error": error.reason, "status": body["status"]})
    return ProblemResponse(body, status_code=body["status"])


async def not_found(_request: Request, _error: Exception) -> JSONResponse:
    return error_response("No such endpoint.", 404)


async def not_allowed(request: Request, _error: Exception) -> JSONResponse:
    """405 with `Allow` naming every method the path takes (several routes may share it)."""
    allowed: set[str] = set()
    for route in request.app.routes:
        if (
            isinstance(route, Route)
            and route.methods
            and route.matches(request.scope)[0] != Match.NONE
        ):
            allowed |= route.methods
    response = error_response("Method not allowed here.", 405)
    if allowed:
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


async def http_error(_request: Request, error: Exception) -> JSONResponse:
    """Any other HTTP error Starlette raises, as a problem like every other answer."""
    assert isinstance(error, HTTPException)
    return error_response(error.detail, error.status_code)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    TriageError: triage_error_response,
    404: not_found,
    405: not_allowed,
    HTTPException: http_error,
}


class JsonServerErrors:
    """Turn an unexpected exception into a problem-details 500 and log it once.

    Starlette's own handler for `Exception` answers and then re-raises, and uvicorn closes
    the connection on a re-raised error, so a client can lose the answer; this middleware
    answers and keeps the connection usable. An error after the answer started is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            log.exception("request failed", extra={"path": scope.get("path")})
            response = error_response(INTERNAL_ERROR, 500)
            await response(scope, receive, send)
