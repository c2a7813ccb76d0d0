"""The rules in force right now: deployment settings overlaid by what admins changed at run time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.settings import Settings
from classifier import Thresholds
from storage.queries.runtime_settings import runtime_settings

# Keys admins may set at run time (through /triage); values are JSON.
PAUSED = "paused"
AUDIT_RATE = "audit_rate"
QUORUM = "quorum"
TARGET_PRECISION = "target_precision"
THRESHOLD = "threshold"  # overrides the model's global threshold
LABEL_THRESHOLDS = "label_thresholds"  # {label: threshold}


@dataclass(frozen=True)
class Policy:
    """How tickets are decided and answers are counted, as admins last set it."""

    paused: bool = False
    audit_rate: float = 0.02
    quorum: int = 1
    target_precision: float = 0.95
    threshold: float | None = None
    label_thresholds: dict[str, float] = field(default_factory=dict)

    def thresholds_for(self, tuned: Thresholds) -> Thresholds:
        """The model's tuned thresholds with the admins' overrides on top.

        An admin's global threshold replaces the tuned per-label ones ("for all labels");
        labels with too few examples stay never-automatic whatever the override.
        """
        result = tuned
        if self.threshold is not None:
            result = Thresholds(self.threshold, {}, tuned.never_auto)
        for label, value in self.label_thresholds.items():
            result = result.with_label(label, value)
        return result


def current_policy(*, session: Session, settings: Settings) -> Policy:
    """Read the overrides stored in the database over the deployment's defaults."""
    stored: dict[str, Any] = runtime_settings(session=session)
    return Policy(
        paused=bool(stored.get(PAUSED, False)),
        audit_rate=float(stored.get(AUDIT_RATE, settings.audit_rate)),
        quorum=int(stored.get(QUORUM, 1)),
        target_precision=float(stored.get(TARGET_PRECISION, settings.target_precision)),
        threshold=None if stored.get(THRESHOLD) is None else float(stored[THRESHOLD]),
        label_thresholds={k: float(v) for k, v in (stored.get(LABEL_THRESHOLDS) or {}).items()},
    )


# Set by `/triage retrain` (and the App Home button); the worker's retraining job consumes it.
RETRAIN_REQUESTED = "retrain_requested"
