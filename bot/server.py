"""The web process: Slack events, the ticket API, health checks and metrics on one port.

Bolt's AsyncApp runs on the event loop; database and model work goes to worker threads, so a
slow query never delays the 3-second acknowledgement Slack expects. Tickets are taken in by
the micro-batcher (`bot.intake_batcher`). The outbox is delivered on a thread of its own that
gives way to intake (`bot.delivery_thread`), woken as soon as a request queued something;
the watch on the worker's lease that alerts ops when no worker leads runs beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_bolt.async_app import AsyncApp
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from bot.admin_group import AdminGroup
from bot.api.batch import create_batch_endpoint
from bot.api.errors import EXCEPTION_HANDLERS, JsonServerErrors
from bot.api.health import HealthSources, health_endpoint, readiness_endpoint
from bot.api.labels import label_endpoint, undo_label_endpoint
from bot.api.openapi import openapi_endpoint
from bot.api.records import erase_ticket_endpoint, export_endpoint
from bot.api.request_ids import RequestIds
from bot.api.ticket_list import list_tickets_endpoint
from bot.api.tickets import create_ticket_endpoint, get_ticket_endpoint
from bot.app import build_bolt_app
from bot.clock import utc_now
from bot.delivery import Deliverer, slack_client
from bot.delivery_process import DeliveryProcess
from bot.delivery_thread import DeliveryThread
from bot.deps import Deps
from bot.errors import SettingsError
from bot.intake_batcher import IntakeBatcher
from bot.listeners.endpoint import slack_events_endpoint
from bot.metrics.http import RequestMetrics, metrics_endpoint
from bot.metrics.process import ProcessMetrics, exposition_registry
from bot.metrics.state import DatabaseState
from bot.process_lock import FileLock, run_while_holding
from bot.services.intake_batch import Answer, Submission, submit_batch
from bot.services.model_cache import ModelCache
from bot.services.models import LoadedModel
from bot.services.policy_cache import PolicyCache
from bot.settings import Settings
from jobs.leader_watch import check_worker_leader
from storage.database import session_factory, unit_of_work

log = logging.getLogger(__name__)

LEADER_CHECK_SECONDS = 60.0
DELIVERY_PASS_ROWS = 5  # rows per delivery pass: intake is looked at again this often


@dataclass
class WebProcess:
    """The pieces of one web process, kept together so tests can reach them."""

    deps: Deps
    app: Starlette
    bolt: AsyncApp | None
    metrics: ProcessMetrics


def check_slack_settings(settings: Settings) -> bool:
    """Slack needs both the bot token and the signing secret; neither means API-only mode."""
    token, secret = settings.slack_bot_token, settings.slack_signing_secret
    if bool(token) != bool(secret):
        missing = "SLACK_SIGNING_SECRET" if token else "SLACK_BOT_TOKEN"
        raise SettingsError(f"{missing} is not set; Slack needs both it and its pair.")
    return bool(token)


def build_web_process(
    settings: Settings,
    engine: Engine,
    *,
    model_refresh_seconds: float = 30.0,
    delivery_backoff: float = 2.0,
    now: Callable[[], datetime] = utc_now,
    leader_check_seconds: float = LEADER_CHECK_SECONDS,
    socket_mode_lock: FileLock | None = None,
    settle_heap: bool = False,
) -> WebProcess:
    """Wire settings, database, model cache, Bolt app, deliverer and routes together.

    `socket_mode_lock`: when this is one of several processes on one port, Socket Mode runs
    only in the one holding that lock: one socket per `triage serve`, since Slack allows an
    app at most 10 and every process connected would take one. `settle_heap`: after each
    model load, hide the long-lived heap from the garbage collector (`settle_heap_after_load`).
    """
    factory = session_factory(engine)
    metrics = ProcessMetrics()
    models = ModelCache(
        factory,
        refresh_after=model_refresh_seconds,
        on_load=settle_heap_after_load if settle_heap else None,
    )
    policies = PolicyCache(settings)
    rng = random.Random()

    def take_in(submissions: Sequence[Submission]) -> list[Answer]:
        return in_key_order(
            lambda ordered: submit_batch(
                ordered, factory=factory, model=models.get(), policies=policies, now=now(), rng=rng
            ),
            submissions,
        )

    intake = IntakeBatcher(
        take_in, max_size=settings.intake_batch_size, max_wait=settings.intake_batch_ms / 1000
    )
    slack_enabled = check_slack_settings(settings)
    delivery = (
        None
        if not slack_enabled
        else DeliveryProcess(settings, metrics)
        if settings.web_delivery == "process"
        else DeliveryThread(
            Deliverer(
                factory,
                slack_client(settings, metrics=metrics),  # this thread's own client
                settings,
                now=now,
                backoff_base=delivery_backoff,
                batch=DELIVERY_PASS_ROWS,
                policies=policies,
            ),
            intake_busy=lambda: intake.busy or intake.pending() > 0,
        )
    )
    deps = Deps(
        settings=settings,
        factory=factory,
        models=models,
        now=now,
        rng=rng,
        wake_deliveries=(lambda: None) if delivery is None else delivery.wake,
        admin_group=AdminGroup(settings.admin_group, now),
        policies=policies,
        intake=intake,
    )
    bolt = build_bolt_app(deps, metrics=metrics) if slack_enabled else None
    started_at = now()
    health = HealthSources(engine, factory, settings, now, started_at, slack_enabled)
    state = DatabaseState(factory, settings, now=now, watching_since=started_at)
    registry = exposition_registry(
        metrics, [state], multiprocess_dir=settings.prometheus_multiproc_dir
    )
    routes = [
        Route("/api/tickets", create_ticket_endpoint(deps), methods=["POST"]),
        Route("/api/tickets", list_tickets_endpoint(deps), methods=["GET"]),
        Route("/api/tickets/batch", create_batch_endpoint(deps), methods=["POST"]),
        Route("/api/tickets/{ticket_id}", get_ticket_endpoint(deps), methods=["GET"]),
        Route("/api/tickets/{ticket_id}", erase_ticket_endpoint(deps), methods=["DELETE"]),
        Route("/api/tickets/{ticket_id}/label", label_endpoint(deps), methods=["POST"]),
        Route("/api/tickets/{ticket_id}/label", undo_label_endpoint(deps), methods=["DELETE"]),
        Route("/api/openapi.json", openapi_endpoint(), methods=["GET"]),
        Route("/api/export", export_endpoint(deps), methods=["GET"]),
        Route("/healthz", health_endpoint(health), methods=["GET"]),
        Route("/readyz", readiness_endpoint(health), methods=["GET"]),
        Route("/metrics", metrics_endpoint(registry, settings.metrics_token), methods=["GET"]),
    ]
    if bolt is not None and settings.slack_signing_secret:
        events = slack_events_endpoint(bolt, settings.slack_signing_secret)
        routes.append(Route("/slack/events", events, methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(
                watch_leader_forever(deps, started_at=started_at, every=leader_check_seconds)
            )
        ]
        if delivery is not None:
            delivery.start()
        if bolt is not None and settings.slack_app_token:
            socket_mode = functools.partial(run_socket_mode, bolt, settings.slack_app_token)
            if socket_mode_lock is not None:
                socket_mode = functools.partial(
                    run_while_holding, socket_mode_lock, "socket mode", socket_mode
                )
            tasks.append(asyncio.create_task(socket_mode()))
        yield
        await deps.intake.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if delivery is not None:
            await asyncio.to_thread(delivery.stop)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(RequestIds),
            Middleware(RequestMetrics, metrics=metrics, routes=routes),
            Middleware(JsonServerErrors),
        ],
    )
    return WebProcess(deps, app, bolt, metrics)


def settle_heap_after_load(loaded: LoadedModel) -> None:
    """Once a model is loaded, let the garbage collector stop scanning what lives as long.

    The model, spaCy's vocabulary and WordLlama's tokenizer are a quarter of a million
    objects that never become garbage; each full collection walked them all (0.1-0.4 s,
    measured under load), stalling every request in flight, which is what the worst
    latencies were made of. One classification loads spaCy and WordLlama; then the
    previous model's objects are handed back to the collector, collected, and everything
    left is frozen (`gc.freeze`): later collections only see what was allocated since.
    """
    try:
        loaded.model.assess(["settling the heap"])
    except Exception:  # noqa: BLE001 - the heap stays as it is; intake reports its own errors
        log.warning("model warm-up failed", exc_info=True)
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def in_key_order(
    submit: Callable[[Sequence[Submission]], list[Answer]], submissions: Sequence[Submission]
) -> list[Answer]:
    """Submit in (source, external id) order; answer in the callers' order.

    Two web processes taking in resends of the same tickets at once each insert them in one
    transaction; PostgreSQL makes the second inserter of a key wait for the first's commit.
    In arrival order, process A could hold key 1 and wait for key 2 while B holds key 2 and
    waits for key 1: a deadlock, which PostgreSQL breaks after a second by failing one
    ticket. In one shared order, one of them always waits for the other to finish instead.
    """
    order = sorted(range(len(submissions)), key=lambda i: submissions[i].key or ("", ""))
    answers = submit([submissions[i] for i in order])
    answered: list[Answer] = list(answers)
    for position, index in enumerate(order):
        answered[index] = answers[position]
    return answered


async def watch_leader_forever(deps: Deps, *, started_at: datetime, every: float) -> None:
    """Alert ops when no worker has led for a while: the worker cannot say it is gone."""

    def check() -> None:
        with unit_of_work(deps.factory) as session:
            check_worker_leader(
                session=session, settings=deps.settings, now=deps.now(), watching_since=started_at
            )

    while True:
        try:
            await asyncio.to_thread(check)
        except Exception:  # noqa: BLE001 - a database hiccup: look again next time
            log.exception("worker leader check failed")
        await asyncio.sleep(every)


async def run_socket_mode(bolt: AsyncApp, app_token: str) -> None:
    """Receive Slack's requests over a WebSocket instead of the public URL."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, app_token)
    try:  # connecting retries until Slack accepts, so shutdown can cancel it: close even then
        await handler.connect_async()
        await asyncio.Event().wait()
    finally:
        await handler.close_async()
