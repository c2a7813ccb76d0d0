"""Composition root of the Slack side: build the Bolt app and register every listener."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from bot.blocks.errors import UNEXPECTED, error_text
from bot.deps import Deps
from bot.errors import TriageError
from bot.metrics.process import ProcessMetrics
from bot.metrics.slack import AsyncSlackCallCounter

log = logging.getLogger(__name__)


def build_bolt_app(deps: Deps, *, metrics: ProcessMetrics | None = None) -> AsyncApp:
    """The Bolt app: signature check on, own messages ignored, 429s retried by the client
    (and, with `metrics`, every Slack request counted)."""
    settings = deps.settings
    counting = [] if metrics is None else [AsyncSlackCallCounter(metrics)]
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[*counting, AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        ignoring_self_events_enabled=True,
        logger=logging.getLogger("slack_bolt"),
    )
    listeners.register(app, deps)
    app.error(_on_error)
    return app


async def _on_error(error: Exception, body: dict[str, Any], respond: Any) -> None:
    """Every listener failure ends in a private message, never in silence."""
    if isinstance(error, TriageError):
        text = error_text(error)
    else:
        log.error("listener failed", exc_info=error)
        text = UNEXPECTED
    if respond is None or not body.get("response_url"):
        return
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # noqa: BLE001 - nothing more to tell the person
        log.warning("could not send the error reply")
