"""A child's counts added to its parent's: each increment once, and nothing from a line
that is not what a child sends."""

from __future__ import annotations

import json

import pytest

from bot.metrics.process import ProcessMetrics
from bot.metrics.relay import CounterIncrements, add_increments


def total(metrics: ProcessMetrics, name: str = "triage_slack_api_requests", **labels: str) -> float:
    return metrics.registry.get_sample_value(f"{name}_total", labels) or 0.0


def test_what_the_child_counted_since_its_last_pass_is_added_once() -> None:
    child, parent = ProcessMetrics(), ProcessMetrics()
    relay = CounterIncrements(child)
    parent.slack_requests.labels("views.publish").inc()  # the parent's own calls stay
    child.slack_requests.labels("chat.postMessage").inc(3)
    child.slack_errors.labels("chat.postMessage", "http_500").inc()
    add_increments(parent, json.loads(json.dumps(relay.since_last())))  # as the pipe carries it
    assert relay.since_last() == []  # nothing new since
    child.slack_requests.labels("chat.postMessage").inc()
    add_increments(parent, json.loads(json.dumps(relay.since_last())))

    assert total(parent, method="chat.postMessage") == 4
    assert total(parent, method="views.publish") == 1
    errors = total(parent, "triage_slack_api_errors", method="chat.postMessage", error="http_500")
    assert errors == 1


@pytest.mark.parametrize(
    "line",
    [
        [["triage_no_such_counter", {"method": "x"}, 1]],
        [["triage_slack_api_requests", {"wrong": "x"}, 1]],
        [["triage_slack_api_requests", {"method": 3}, 1]],
        [["triage_slack_api_requests", {"method": "x"}, -1]],
        [["triage_slack_api_requests", {"method": "x"}, "1"]],
        [["triage_slack_api_requests", {"method": "x"}, 1], ["triage_slack_api_requests"]],
        "not a list of increments",
    ],
)
def test_a_line_that_is_not_increments_counts_nothing(line: object) -> None:
    parent = ProcessMetrics()
    with pytest.raises((ValueError, KeyError, TypeError)):
        add_increments(parent, line)
    assert total(parent, method="x") == 0
