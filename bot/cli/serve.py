"""`triage serve`: the web process (Procfile `web`), one or WEB_CONCURRENCY of them on PORT."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from threadpoolctl import threadpool_limits

from bot.cli.runtime import open_database, started_checks
from bot.logs import configure_logging
from bot.process_lock import FileLock
from bot.server import build_web_process
from bot.settings import Settings
from storage.database import create_db_engine
from storage.migrate import ensure_current

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
SOCKET_MODE_LOCK = "socket-mode.lock"


def register(commands: Any) -> None:
    """Add `serve` to the parser."""
    serve = commands.add_parser("serve", help="serve Slack events and the ticket API on PORT")
    serve.add_argument("--host", default="0.0.0.0", help="interface to listen on")  # noqa: S104
    serve.set_defaults(handler=serve_command, serves=True)


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM; uvicorn finishes requests in flight before exiting."""
    settings = started_checks(settings)
    one_native_thread()
    tune_collector()
    if settings.web_concurrency > 1:
        return serve_processes(args.host, settings)
    with open_database(settings) as (engine, _):
        process = build_web_process(
            settings,
            engine,
            model_refresh_seconds=settings.model_refresh_seconds,
            settle_heap=True,
        )
        uvicorn.run(process.app, host=args.host, port=settings.port, **UVICORN_OPTIONS)
    return 0


def one_native_thread() -> None:
    """Run the model's native code on the calling thread only, in this web process.

    Intake classifies a batch of a few to a few hundred tickets at a time: small matrix
    products, for which OpenBLAS's and the tokenizer's thread pools only add hand-offs and
    spinning on cores the event loop, the delivery thread and other processes need (32
    tickets' similarities: 31 ms with two BLAS threads on the busy 2-core machine, 1.5 ms with
    one). A web process scales with processes instead; an operator's own
    TOKENIZERS_PARALLELISM is kept. Training (the worker) keeps its threads.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    threadpool_limits(1)


# Container objects allocated, net of those freed, before a youngest-generation collection
# (CPython's default is 700). A batch of tickets allocates tens of thousands (ORM rows,
# sparse features, answers), nearly all freed by reference counting when it is answered;
# collecting every 700 walked them again and again, and promoted them to older generations
# that are costlier still to collect.
GC_YOUNGEST_THRESHOLD = 5_000


# How long a thread may keep the GIL while another waits for it (CPython's default: 5 ms).
# The event loop gives the GIL up at every socket call and then waits for it; behind a
# batch being classified or the delivery thread, each wait lasted up to 5 ms, several per
# request, which is where the tail of intake latency came from.
SWITCH_INTERVAL_SECONDS = 0.001


def tune_collector() -> None:
    """Collect the youngest generation less often in a web process (the older generations'
    thresholds stay; the model's heap is frozen after each load, `settle_heap_after_load`),
    and hand the GIL over sooner to the thread waiting for it (the event loop, mostly)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, middle, oldest)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "proxy_headers": True,
    "timeout_graceful_shutdown": 20,
}


def serve_processes(host: str, settings: Settings) -> int:
    """WEB_CONCURRENCY processes on one port, their metrics summed through shared files.

    uvicorn's supervisor restarts a process that dies and, on SIGTERM, stops each one
    gracefully. Socket Mode, if configured, runs in one of them (`bot.process_lock`).

    uvicorn starts each process afresh from an import string; they read their settings
    from the environment, so what the checks resolved (channel IDs) and the metrics
    directory are handed over there, the only channel a fresh process has.
    """
    with open_database(settings):
        pass  # refuse an unmigrated or unreachable database before starting anything
    given = settings.prometheus_multiproc_dir
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="triage-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # counts of an earlier run would be added in
        stale.unlink()
    os.environ[MULTIPROC_VARIABLE] = str(directory)
    for variable, value in (
        ("TRIAGE_REVIEW_CHANNEL", settings.review_channel),
        ("TRIAGE_ALERTS_CHANNEL", settings.alerts_channel),
        ("TRIAGE_INTAKE_CHANNEL", settings.intake_channel),
    ):
        if value:
            os.environ[variable] = value
    try:
        uvicorn.run(
            "bot.cli.serve:web_app_from_environment",
            factory=True,
            workers=settings.web_concurrency,
            host=host,
            port=settings.port,
            **UVICORN_OPTIONS,
        )
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def web_app_from_environment() -> Starlette:
    """One of WEB_CONCURRENCY web processes, built from the environment its parent set.

    The metrics directory is the one directory the parent made for its processes alone, so
    the lock that gives Socket Mode to one of them lives there too.
    """
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    one_native_thread()
    tune_collector()
    engine = create_db_engine(settings.database_url)
    ensure_current(engine)
    assert settings.prometheus_multiproc_dir is not None  # set by `serve_processes`
    lock = FileLock(Path(settings.prometheus_multiproc_dir) / SOCKET_MODE_LOCK)
    return build_web_process(
        settings,
        engine,
        model_refresh_seconds=settings.model_refresh_seconds,
        socket_mode_lock=lock,
        settle_heap=True,
    ).app
