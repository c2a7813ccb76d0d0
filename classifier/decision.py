"""Routing one prediction: apply automatically, apply with an audit, or ask a human."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # storage imports this enum for its column; keep that free of numpy
    from classifier.thresholds import Thresholds


class Decision(StrEnum):
    """What happens to a ticket; string values so they can be stored and logged directly."""

    AUTO = "auto"
    AUDIT = "audit"
    REVIEW = "review"


def decide(
    label: str,
    confidence: float,
    thresholds: Thresholds | None,
    *,
    audit_rate: float,
    draw: float,
    novel: bool = False,
) -> Decision:
    """Route a prediction; confident ones are sampled for audit so precision stays monitored.

    ``thresholds`` is None at cold start (no active model): everything goes to review, and
    so does a ticket the novelty detector flagged, whatever its confidence.
    ``draw`` is a caller-supplied uniform number in [0, 1) so the choice is reproducible.
    """
    if thresholds is None or novel or confidence < thresholds.for_label(label):
        return Decision.REVIEW
    return Decision.AUDIT if draw < audit_rate else Decision.AUTO
