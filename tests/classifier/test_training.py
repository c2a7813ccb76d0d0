from __future__ import annotations

import math

import pytest

from classifier.errors import ClassifierError
from classifier.training import TrainedModel, train


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "empty"),
        (["a", "b"], ["x"], "must match"),
        (["a", "b", "c"], ["x", "x", "x"], "at least 2"),
    ],
)
def test_unusable_training_data_is_rejected(
    texts: list[str], labels: list[str], message: str
) -> None:
    with pytest.raises(ClassifierError, match=message):
        train(texts, labels, target_precision=0.9)


def test_trained_model_summary(trained: TrainedModel) -> None:
    assert trained.n_examples == 1848
    assert len(trained.label_counts) == 77
    assert set(trained.label_counts.values()) == {24}
    assert trained.cv_metrics.n == 1848
    assert trained.cv_metrics.accuracy > 0.8
    assert trained.thresholds.never_auto == frozenset()
    assert trained.thresholds.default <= 1.0
    assert trained.cv_metrics.auto_precision is not None
    assert trained.cv_metrics.auto_precision >= 0.9


def test_rare_labels_reduce_folds_and_are_never_auto() -> None:
    texts = [f"card {word} arrived late" for word in "abcdefgh"] + [
        f"pin {word} blocked" for word in "abcdefgh"
    ]
    texts += ["refund please now", "refund my money", "exchange rate question"]
    labels = ["card"] * 8 + ["pin"] * 8 + ["refund", "refund", "exchange"]
    steps: list[tuple[str, int, int]] = []
    result = train(
        texts,
        labels,
        target_precision=0.9,
        folds=5,
        progress=lambda stage, step, total: steps.append((stage, step, total)),
    )
    assert ("cross-validation", 2, 2) in steps  # "refund" has 2 examples -> 2 folds
    assert steps[-1] == ("final model", 1, 1)
    assert result.thresholds.never_auto == frozenset({"refund", "exchange"})
    assert result.thresholds.for_label("exchange") == math.inf
    assert result.cv_metrics.n == 18  # the single "exchange" example is never held out
    assert "exchange" in result.model.classes_
