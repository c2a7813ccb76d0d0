"""`triage serve`: the web process (Procfile `web`)."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from bot.cli.runtime import open_database
from bot.server import build_web_process
from bot.settings import Settings


def register(commands: Any) -> None:
    """Add `serve` to the parser."""
    serve = commands.add_parser("serve", help="serve Slack events and the ticket API on PORT")
    serve.add_argument("--host", default="0.0.0.0", help="interface to listen on")  # noqa: S104
    serve.set_defaults(handler=serve_command, serves=True)


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM; uvicorn finishes requests in flight before exiting."""
    with open_database(settings) as (engine, _):
        process = build_web_process(
            settings, engine, model_refresh_seconds=settings.model_refresh_seconds
        )
        uvicorn.run(
            process.app,
            host=args.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=20,
        )
    return 0
