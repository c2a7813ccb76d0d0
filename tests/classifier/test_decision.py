from __future__ import annotations

import pytest

from classifier.decision import Decision, decide
from classifier.thresholds import Thresholds

THRESHOLDS = Thresholds(default=0.9, per_label={"strict": 0.99}, never_auto=frozenset({"rare"}))


@pytest.mark.parametrize(
    ("label", "confidence", "thresholds", "draw", "expected"),
    [
        ("any", 1.0, None, 0.5, Decision.REVIEW),
        ("any", 0.95, THRESHOLDS, 0.5, Decision.AUTO),
        ("any", 0.95, THRESHOLDS, 0.05, Decision.AUDIT),
        ("any", 0.9, THRESHOLDS, 0.5, Decision.AUTO),
        ("any", 0.89, THRESHOLDS, 0.5, Decision.REVIEW),
        ("strict", 0.95, THRESHOLDS, 0.5, Decision.REVIEW),
        ("strict", 0.995, THRESHOLDS, 0.5, Decision.AUTO),
        ("rare", 1.0, THRESHOLDS, 0.5, Decision.REVIEW),
    ],
)
def test_decide_table(
    label: str, confidence: float, thresholds: Thresholds | None, draw: float, expected: Decision
) -> None:
    assert decide(label, confidence, thresholds, audit_rate=0.1, draw=draw) is expected


def test_decision_values_are_plain_strings() -> None:
    assert [str(d) for d in Decision] == ["auto", "audit", "review"]
