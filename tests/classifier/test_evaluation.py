from __future__ import annotations

import numpy as np
import pytest

from classifier.evaluation import evaluate, metrics_from_predictions
from classifier.thresholds import Thresholds
from classifier.training import TrainedModel


def test_metrics_hand_computed() -> None:
    predicted = ["a", "a", "b", "b"]
    gold = ["a", "b", "b", "c"]
    confidences = np.array([0.9, 0.6, 0.95, 0.5])
    metrics = metrics_from_predictions(
        predicted, confidences, gold, Thresholds(default=0.8, per_label={"b": 0.99})
    )
    assert metrics.n == 4
    assert metrics.accuracy == pytest.approx(0.5)
    # F1: a = 2/3 (p 1/2, r 1), b = 1/2 (p 1/2, r 1/2), c = 0 (never predicted)
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert metrics.coverage == pytest.approx(0.25)
    assert metrics.auto_precision == pytest.approx(1.0)
    assert metrics.to_dict()["n"] == 4


def test_no_coverage_gives_no_precision() -> None:
    metrics = metrics_from_predictions(["a"], np.array([0.5]), ["a"], None)
    assert metrics.coverage == 0.0
    assert metrics.auto_precision is None


def test_evaluate_on_holdout_is_accurate_and_calibrated(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    texts, labels = sample_holdout
    metrics = evaluate(trained.model, texts, labels, trained.thresholds)
    assert metrics.n == 308
    assert metrics.accuracy > 0.8
    assert metrics.calibration_error < 0.15
    assert 0.0 < metrics.coverage < 1.0


def test_unknown_gold_labels_count_as_wrong(trained: TrainedModel) -> None:
    metrics = evaluate(trained.model, ["I lost my card"], ["label_never_seen"], None)
    assert metrics.accuracy == 0.0
