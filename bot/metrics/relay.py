"""Counts made in a child process, added to its parent's counters.

The web process's delivery runs in a child (`bot.delivery_process`). With one web process,
metrics live in memory, so a scrape of the parent would not see the Slack calls the child
made. After each delivery pass the child sends what its counters gained since the last
pass (a few label sets, one short line); the parent adds that to the same counters of its
own. With several web processes the child writes the shared multiprocess files instead.
"""

from __future__ import annotations

from typing import Any

from bot.metrics.process import ProcessMetrics

# One increment: (counter family name, its labels, how much it grew).
Increment = tuple[str, dict[str, str], float]


class CounterIncrements:
    """What a process's counters gained since the last call (the child's side)."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        self._metrics = metrics
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def since_last(self) -> list[Increment]:
        increments: list[Increment] = []
        for name, counter in self._metrics.counters().items():
            for family in counter.collect():
                for sample in family.samples:
                    if not sample.name.endswith("_total"):
                        continue  # the _created timestamps are the parent's own
                    key = (name, tuple(sorted(sample.labels.items())))
                    grown = sample.value - self._last.get(key, 0.0)
                    if grown > 0:
                        increments.append((name, dict(sample.labels), grown))
                        self._last[key] = sample.value
        return increments


def add_increments(metrics: ProcessMetrics, increments: Any) -> None:
    """Add a child's increments (as read from JSON) to `metrics`; refuse anything else
    with ValueError, KeyError or TypeError before counting any of it."""
    counters = metrics.counters()
    checked = []
    for name, labels, grown in increments:
        counter = counters[name]
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise TypeError("labels must map text to text")
        if not isinstance(grown, int | float) or not grown > 0:
            raise ValueError("an increment is a positive number")
        checked.append((counter.labels(**labels), float(grown)))  # ValueError: not its labels
    for series, grown in checked:
        series.inc(grown)
