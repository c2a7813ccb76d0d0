"""Bearer-token check for the API, in constant time against each configured token."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from bot.errors import TriageError


class Unauthorized(TriageError):
    """Missing or wrong API token."""

    status = 401


def require_token(request: Request, tokens: tuple[str, ...]) -> None:
    """Raise `Unauthorized` unless the request carries one of `tokens`."""
    if not tokens:
        raise Unauthorized("The API is disabled: set TRIAGE_API_TOKEN to enable it.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("Send the API token as `Authorization: Bearer <token>`.")
    # Compare against every token, without stopping early, so timing reveals nothing.
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens]
    if not any(matches):
        raise Unauthorized("The API token is not valid.")
