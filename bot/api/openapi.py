"""`GET /api/openapi.json`: the API's OpenAPI 3.1 description, the file kept beside this module.

The file is written by hand and checked against the routes by tests/bot/test_openapi.py,
so integrators read the same contract the tests hold the code to.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

SPEC_FILE = "openapi.json"


@cache
def openapi_document() -> dict[str, Any]:
    """The description as shipped in the package (read once: it never changes at run time)."""
    return dict(json.loads(resources.files("bot.api").joinpath(SPEC_FILE).read_text("utf-8")))


def openapi_endpoint() -> Any:
    """GET: the description, public (it holds no secret and clients fetch it to generate code)."""

    async def openapi(_request: Request) -> JSONResponse:
        return JSONResponse(openapi_document())

    return openapi
