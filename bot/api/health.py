"""`GET /healthz`: is the database reachable and migrated (what a load balancer should know)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse

from storage.errors import StorageError
from storage.migrate import ensure_current


def health_endpoint(engine: Engine) -> Any:
    """200 when the database answers with the expected schema, 503 otherwise."""

    async def health(_request: Request) -> JSONResponse:
        try:
            await asyncio.to_thread(ensure_current, engine)
        except StorageError as error:
            return JSONResponse({"ok": False, "database": error.reason}, status_code=503)
        except Exception as error:  # noqa: BLE001 - any database failure means "unhealthy"
            reason = f"unreachable: {type(error).__name__}"
            return JSONResponse({"ok": False, "database": reason}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return health
