"""The HTTP endpoint Slack posts events, interactions and commands to.

Bolt verifies signatures and dispatches; in front of it, a signed body that is not shaped
like a Slack request is answered 400 with its reason logged (`payload_check`), because Bolt
would answer it 500 and Slack retries every 5xx. Unsigned bodies are left to Bolt, which
answers them 401 without reading further.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from bot.listeners.payload_check import refusal

log = logging.getLogger(__name__)


def slack_events_endpoint(bolt: AsyncApp, signing_secret: str) -> Any:
    """A Starlette endpoint for `/slack/events`."""
    handler = AsyncSlackRequestHandler(bolt)
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> object:
        body = await request.body()  # cached: Bolt's adapter reads the same bytes again
        reason = _refusal(verifier, body, request)
        if reason is not None:
            log.warning("slack request refused", extra={"reason": reason, "bytes": len(body)})
            return PlainTextResponse(f"not a Slack request: {reason}", status_code=400)
        return await handler.handle(request)

    return slack_events


def _refusal(verifier: SignatureVerifier, body: bytes, request: Request) -> str | None:
    """Why a signed body is refused; None for a good one or an unsigned one (Bolt's 401)."""
    try:
        signed = verifier.is_valid(
            body,
            request.headers.get("x-slack-request-timestamp", ""),
            request.headers.get("x-slack-signature", ""),
        )
    except UnicodeDecodeError:  # the verifier decodes the body first; Slack only sends UTF-8
        return "body is not UTF-8"
    return refusal(body, request.headers.get("content-type")) if signed else None
