"""The counters and histograms one process keeps, and the registry `/metrics` exposes.

What is *state* (backlog, outbox, models, workers) is read from the database at scrape time
(`bot.metrics.state`), so every process reports the same truth. What are *events* in one
process (HTTP requests, Slack calls) are counted here. With several web processes behind one
port (WEB_CONCURRENCY > 1) prometheus-client's multiprocess mode keeps each process's
counts in files under PROMETHEUS_MULTIPROC_DIR, and a scrape answered by any of them sums
all: a scrape never sees only the share of the process that happened to answer it.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Request latency: Slack wants an answer within 3 s, so resolution is finest below that.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


class ProcessMetrics:
    """One process's event counters, registered in a registry of their own.

    Built once by the composition root and handed to what counts, rather than kept in
    module globals, so each process (and each test's server) counts only its own events.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "triage_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "triage_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "triage_slack_api_requests",
            "Slack Web API requests sent (retries included), by API method.",
            ["method"],
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "triage_slack_api_errors",
            "Slack Web API requests that failed, by API method and Slack's error code "
            "(http_NNN for an HTTP error, connection when Slack could not be reached).",
            ["method", "error"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            "triage_slack_rate_limited",
            "Slack Web API requests answered 429 (rate limited), by API method.",
            ["method"],
            registry=self.registry,
        )

    def counters(self) -> dict[str, Counter]:
        """The counters by family name: what a child process's counts are added to."""
        return {
            "triage_http_requests": self.http_requests,
            "triage_slack_api_requests": self.slack_requests,
            "triage_slack_api_errors": self.slack_errors,
            "triage_slack_rate_limited": self.slack_rate_limited,
        }


def exposition_registry(
    metrics: ProcessMetrics, collectors: Iterable[Collector], *, multiprocess_dir: str | None
) -> CollectorRegistry:
    """The registry a scrape reads: this process's counts (or every process's, from the
    multiprocess files) plus `collectors`, such as the database-backed state."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry = CollectorRegistry(auto_describe=True)
        registry.register(_Forward(metrics.registry))
        for runtime in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(runtime)
    for collector in collectors:
        registry.register(collector)
    return registry


class _Forward(Collector):
    """Expose another registry's metrics (the process's own) inside this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable:
        return self._source.collect()
