"""The bare baseline of `benchmarks.ingest`: Starlette + uvicorn inserting one row into SQLite.

The stack's own ceiling on this machine: the same server, event loop, thread hand-off and
SQLite settings (WAL, synchronous=NORMAL, BEGIN IMMEDIATE) as `triage serve`, and nothing
else: no model, no outbox, no policy.

    python -m benchmarks.ingest_baseline PORT DB_PATH
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

local = threading.local()


def connection(path: str) -> sqlite3.Connection:
    """One connection per worker thread, as a session per unit of work would reuse its pool."""
    if getattr(local, "db", None) is None:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        local.db = db
    return local.db  # type: ignore[no-any-return]


def build(path: str) -> Starlette:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, source TEXT, "
            "external_id TEXT, text TEXT, UNIQUE (source, external_id))"
        )

    def insert(fields: dict[str, str]) -> int:
        db = connection(path)
        db.execute("BEGIN IMMEDIATE")
        cursor = db.execute(
            "INSERT INTO tickets (source, external_id, text) VALUES (?, ?, ?)",
            (fields.get("source"), fields.get("external_id"), fields.get("text")),
        )
        db.execute("COMMIT")
        return int(cursor.lastrowid or 0)

    async def create(request: Request) -> JSONResponse:
        fields = json.loads(await request.body())
        ticket_id = await asyncio.to_thread(insert, fields)
        return JSONResponse({"id": ticket_id}, status_code=201)

    return Starlette(routes=[Route("/api/tickets", create, methods=["POST"])])


if __name__ == "__main__":
    port, db_path = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(db_path), host="127.0.0.1", port=port, log_level="warning")
