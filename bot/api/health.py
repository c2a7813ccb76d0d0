"""`GET /healthz` and `GET /readyz`: what a load balancer, an orchestrator and ops should know.

`/healthz` answers 200 while the database is reachable and migrated, and says who leads the
workers. `/readyz` separates "can serve" (status 200) from "fully healthy" (`healthy` in the
body, and status 503 with `?full=1` unless healthy): a missing worker or a Slack outage
should not take a web process out of rotation, but a monitor may want to hear of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.services.readiness import Check, service_checks
from bot.services.worker_health import worker_health
from bot.settings import Settings
from storage.database import unit_of_work
from storage.errors import StorageError
from storage.migrate import ensure_current


@dataclass(frozen=True)
class HealthSources:
    """What the health endpoints read: the database, settings, the clock, the process start."""

    engine: Engine
    factory: sessionmaker[Session]
    settings: Settings
    now: Callable[[], datetime]
    started_at: datetime
    slack_enabled: bool


def database_check(engine: Engine) -> Check:
    """Reachable, with the schema this code expects."""
    try:
        ensure_current(engine)
    except StorageError as error:
        return Check(False, error.reason)
    except Exception as error:  # noqa: BLE001 - any database failure means "cannot serve"
        return Check(False, f"unreachable: {type(error).__name__}")
    return Check(True, "ok")


def health_endpoint(sources: HealthSources) -> Any:
    """200 when the database answers with the expected schema, 503 otherwise; the workers."""

    def report() -> tuple[Check, dict[str, Any] | None]:
        database = database_check(sources.engine)
        if not database.ok:
            return database, None
        with unit_of_work(sources.factory) as session:
            health = worker_health(session=session, settings=sources.settings, now=sources.now())
        return database, health.as_json(sources.started_at)

    async def health(_request: Request) -> JSONResponse:
        database, workers = await asyncio.to_thread(report)
        if not database.ok:
            return JSONResponse({"ok": False, "database": database.detail}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok", "worker": workers})

    return health


def readiness_endpoint(sources: HealthSources) -> Any:
    """Can this process serve (200/503), and is the whole service healthy (`healthy`)."""

    def report() -> dict[str, Check]:
        checks = {"database": database_check(sources.engine)}
        if checks["database"].ok:
            with unit_of_work(sources.factory) as session:
                checks |= service_checks(
                    session=session,
                    settings=sources.settings,
                    now=sources.now(),
                    watching_since=sources.started_at,
                    slack_enabled=sources.slack_enabled,
                )
        return checks

    async def ready(request: Request) -> JSONResponse:
        checks = await asyncio.to_thread(report)
        can_serve = checks["database"].ok
        healthy = all(check.ok for check in checks.values())
        full = request.query_params.get("full") not in (None, "", "0", "false")
        status = 200 if can_serve and (healthy or not full) else 503
        body = {
            "can_serve": can_serve,
            "healthy": healthy,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }
        return JSONResponse(body, status_code=status)

    return ready
