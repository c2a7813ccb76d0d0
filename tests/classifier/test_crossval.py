"""Out-of-fold scores, and extra (unlabelled) texts scored by the same fold models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.crossval import out_of_fold_scores

TEXTS = [f"t{i}" for i in range(40)]


class FoldTellingEstimator:
    """Scores every text with (which fold it was fitted for, training size): the first
    text it was not trained on names the fold, so each score row tells its model."""

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> FoldTellingEstimator:
        self.seen_ = set(texts)
        self.fold_ = min(i for i, text in enumerate(TEXTS) if text not in self.seen_)
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        assert not self.seen_ & set(texts), "scored a text it was trained on"
        return np.tile([float(self.fold_), float(len(self.seen_))], (len(texts), 1))


def test_extra_texts_are_scored_by_fold_models_spread_over_the_folds() -> None:
    labels = ["a"] * 30 + ["b"] * 10
    y_index = np.array([0] * 30 + [1] * 10)
    extra = [f"u{i}" for i in range(200)]
    result = out_of_fold_scores(
        FoldTellingEstimator, TEXTS, labels, y_index, folds=5, random_state=0, extra_texts=extra
    )
    assert result.held_out.all()
    fold_models = set(result.scores[:, 0])
    assert len(fold_models) == 5
    assert (result.scores[:, 1] == 32).all() and (result.extra_scores[:, 1] == 32).all()
    chosen = result.extra_scores[:, 0]
    assert set(chosen) == fold_models  # each model scores some, as in held-out scoring
    assert max(np.bincount(chosen.astype(int))) < 80  # about 40 each, not one model for all


def test_without_extra_texts_nothing_extra_is_scored() -> None:
    result = out_of_fold_scores(
        FoldTellingEstimator,
        TEXTS[:4],
        ["a", "a", "b", "b"],
        np.array([0, 0, 1, 1]),
        folds=2,
        random_state=0,
    )
    assert result.extra_scores.shape == (0, 2)
