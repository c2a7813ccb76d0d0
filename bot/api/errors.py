"""Every HTTP answer is JSON, errors included: the reason with its status, never a traceback.

Each error body carries the request id, the key to the request's log lines.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.request_ids import current_request_id
from bot.errors import TriageError
from classifier.errors import ClassifierError
from storage.errors import StorageError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal error; the details are in the logs."


def http_status(error: TriageError) -> int:
    """The bot's errors name their status; a storage or model problem is ours, not the caller's."""
    if isinstance(error, StorageError):
        return 503
    if isinstance(error, ClassifierError):
        return 500
    return int(getattr(error, "status", 400))


def error_response(reason: str, status: int) -> JSONResponse:
    """`{"error": reason, "request_id": ...}` with `status`."""
    return JSONResponse({"error": reason, "request_id": current_request_id()}, status_code=status)


async def triage_error_response(_request: Request, error: Exception) -> JSONResponse:
    """Every error of the family becomes JSON with its reason, never a traceback."""
    assert isinstance(error, TriageError)
    status = http_status(error)
    if status >= 500:
        log.warning("request refused", extra={"error": error.reason, "status": status})
    return error_response(error.reason, status)


async def not_found(_request: Request, _error: Exception) -> JSONResponse:
    return error_response("No such endpoint.", 404)


async def not_allowed(_request: Request, _error: Exception) -> JSONResponse:
    return error_response("Method not allowed here.", 405)


async def http_error(_request: Request, error: Exception) -> JSONResponse:
    """Any other HTTP error Starlette raises, as JSON like every other answer."""
    assert isinstance(error, HTTPException)
    return error_response(error.detail, error.status_code)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    TriageError: triage_error_response,
    404: not_found,
    405: not_allowed,
    HTTPException: http_error,
}


class JsonServerErrors:
    """Turn an unexpected exception into a JSON 500 and log it once.

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
