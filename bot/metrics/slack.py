"""Count every Slack Web API request, error and 429, from the SDK's own retry loop.

slack_sdk asks each retry handler about every response (and every connection error) before
deciding to retry, so a handler that never retries sees all of them, retries included: the
cheapest hook that needs no wrapper around the client and works for Bolt's async client too.
"""

from __future__ import annotations

from typing import Any
from urllib.error import HTTPError

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics.process import ProcessMetrics


def api_method(request: HttpRequest) -> str:
    """`chat.postMessage` from `https://slack.com/api/chat.postMessage?x=y`."""
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "unknown"


def record(
    metrics: ProcessMetrics,
    request: HttpRequest,
    response: HttpResponse | None,
    error: Exception | None,
) -> None:
    """Count one request's answer: sent, failed (and why), rate limited."""
    method = api_method(request)
    metrics.slack_requests.labels(method).inc()
    if error is not None and not isinstance(error, HTTPError):  # an HTTPError has a status
        metrics.slack_errors.labels(method, "connection").inc()
        return
    if response is None:
        return
    if response.status_code == 429:
        metrics.slack_rate_limited.labels(method).inc()
    if response.status_code != 200:
        metrics.slack_errors.labels(method, f"http_{response.status_code}").inc()
        return
    body: Any = response.body
    if isinstance(body, dict) and body.get("ok") is False:
        metrics.slack_errors.labels(method, str(body.get("error") or "unknown")[:64]).inc()


class SlackCallCounter(RetryHandler):
    """For the sync WebClient: first in `retry_handlers`; counts, never retries."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        record(self._metrics, request, response, error)
        return False


class AsyncSlackCallCounter(AsyncRetryHandler):
    """For Bolt's AsyncWebClient: the same counting."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        record(self._metrics, request, response, error)
        return False
