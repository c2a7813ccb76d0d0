"""Out-of-fold decision scores: honest held-out evidence for calibration and thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from classifier.errors import ClassifierError

Progress = Callable[[str, int, int], None]


class ScoringEstimator(Protocol):
    """Anything that can be fitted on texts and return one decision score per class."""

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> ScoringEstimator: ...

    def decision_function(self, texts: Sequence[str]) -> np.ndarray: ...


def fold_assignment(y_index: np.ndarray, folds: int, random_state: int) -> tuple[np.ndarray, int]:
    """Assign each example a fold, stratified by label, reducing folds for rare labels.

    Labels with a single example get fold -1 (always trained on, never held out). The
    number of folds is lowered to the smallest count among the other labels, so every
    training split still contains every label. Returns (fold per example, folds used).
    """
    counts = np.bincount(y_index)
    splittable = counts[counts >= 2]
    if splittable.size == 0:
        raise ClassifierError("Cross-validation needs at least one label with 2 or more examples.")
    used = max(2, min(folds, int(splittable.min())))
    rng = np.random.default_rng(random_state)
    assignment = np.full(len(y_index), -1, dtype=np.intp)
    for label in np.flatnonzero(counts >= 2):
        members = rng.permutation(np.flatnonzero(y_index == label))
        offset = int(rng.integers(used))
        assignment[members] = (np.arange(len(members)) + offset) % used
    return assignment, used


def out_of_fold_scores(
    make_estimator: Callable[[], ScoringEstimator],
    texts: Sequence[str],
    labels: Sequence[str],
    y_index: np.ndarray,
    *,
    folds: int,
    random_state: int,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score each example with a model that never saw it; returns (scores, held-out mask)."""
    texts_arr = np.asarray(texts, dtype=object)
    labels_arr = np.asarray(labels, dtype=object)
    assignment, used = fold_assignment(y_index, folds, random_state)
    scores = np.zeros((len(texts_arr), int(y_index.max()) + 1), dtype=np.float64)
    for fold in range(used):
        if progress is not None:
            progress("cross-validation", fold, used)
        held_out = assignment == fold
        estimator = make_estimator().fit(
            texts_arr[~held_out].tolist(), labels_arr[~held_out].tolist()
        )
        scores[held_out] = estimator.decision_function(texts_arr[held_out].tolist())
    if progress is not None:
        progress("cross-validation", used, used)
    return scores, assignment >= 0
