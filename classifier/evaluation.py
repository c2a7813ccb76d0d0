"""Quality metrics of a classifier together with its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import f1_score

from classifier.calibration import expected_calibration_error
from classifier.thresholds import Thresholds

if TYPE_CHECKING:
    from classifier.model import TicketClassifier


@dataclass(frozen=True)
class Metrics:
    """Summarise accuracy, calibration and the automated share so admins can judge a model."""

    n: int
    accuracy: float
    macro_f1: float
    calibration_error: float
    coverage: float
    auto_precision: float | None
    novel_rate: float = 0.0  # share flagged unlike anything learned (sent to people)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-safe values for storage and display."""
        return asdict(self)


def metrics_from_predictions(
    predicted: Sequence[str] | np.ndarray,
    confidences: np.ndarray,
    gold: Sequence[str] | np.ndarray,
    thresholds: Thresholds | None,
    *,
    novel: np.ndarray | None = None,
) -> Metrics:
    """Compute metrics from stored predictions, so callers need not re-run the model.

    A ticket counts as automated when it clears its label's bar (floor included) and the
    novelty detector did not flag it (``novel``).
    """
    predicted_arr = np.asarray(predicted, dtype=object)
    gold_arr = np.asarray(gold, dtype=object)
    confidences = np.asarray(confidences, dtype=np.float64)
    if not len(predicted_arr) == len(gold_arr) == len(confidences):
        raise ValueError("predicted, confidences and gold must have the same length.")
    n = len(gold_arr)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, None)
    correct = predicted_arr == gold_arr
    flagged = np.zeros(n, dtype=bool) if novel is None else np.asarray(novel, dtype=bool)
    if thresholds is None:
        covered = np.zeros(n, dtype=bool)
    else:
        needed = np.array([thresholds.for_label(label) for label in predicted_arr])
        covered = (confidences >= needed) & ~flagged
    return Metrics(
        n=n,
        accuracy=float(correct.mean()),
        macro_f1=float(
            f1_score(
                gold_arr.astype(str), predicted_arr.astype(str), average="macro", zero_division=0.0
            )
        ),
        calibration_error=expected_calibration_error(confidences, correct),
        coverage=float(covered.mean()),
        auto_precision=float(correct[covered].mean()) if covered.any() else None,
        novel_rate=float(flagged.mean()),
    )


def evaluate(
    model: TicketClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    thresholds: Thresholds | None,
) -> Metrics:
    """Score a model on labelled texts under its whole gate (thresholds, floor, novelty);
    labels the model never saw simply count as wrong."""
    assessed = model.assess(texts)
    predicted = model.classes_[assessed.proba.argmax(axis=1)]
    return metrics_from_predictions(
        predicted, assessed.proba.max(axis=1), labels, thresholds, novel=assessed.novel
    )
