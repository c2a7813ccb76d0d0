"""Out-of-fold decision scores: honest held-out evidence for calibration and thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

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


class OutOfFold(NamedTuple):
    """Held-out scores of the examples, and of extra texts scored the same way."""

    scores: np.ndarray
    folds: np.ndarray  # the fold each example was held out in; -1: never (a label seen once)
    extra_scores: np.ndarray

    @property
    def held_out(self) -> np.ndarray:
        """Examples that have an out-of-fold score."""
        return self.folds >= 0


def out_of_fold_scores(
    make_estimator: Callable[[], ScoringEstimator],
    texts: Sequence[str],
    labels: Sequence[str],
    y_index: np.ndarray,
    *,
    folds: int,
    random_state: int,
    progress: Progress | None = None,
    extra_texts: Sequence[str] = (),
) -> OutOfFold:
    """Score each example with a model that never saw it.

    Each of ``extra_texts`` (unlabelled tickets) is scored by one fold model drawn at
    random, so its scores come from the same kind of model, trained on as much data, as the
    examples' held-out scores: the two sets of confidences can be compared as they are.
    """
    texts_arr = np.asarray(texts, dtype=object)
    labels_arr = np.asarray(labels, dtype=object)
    extra_arr = np.asarray(list(extra_texts), dtype=object)
    assignment, used = fold_assignment(y_index, folds, random_state)
    extra_fold = np.random.default_rng(random_state).integers(used, size=len(extra_arr))
    n_classes = int(y_index.max()) + 1
    scores = np.zeros((len(texts_arr), n_classes), dtype=np.float64)
    extra_scores = np.zeros((len(extra_arr), n_classes), dtype=np.float64)
    for fold in range(used):
        if progress is not None:
            progress("cross-validation", fold, used)
        held_out = assignment == fold
        estimator = make_estimator().fit(
            texts_arr[~held_out].tolist(), labels_arr[~held_out].tolist()
        )
        scores[held_out] = estimator.decision_function(texts_arr[held_out].tolist())
        if (chosen := extra_fold == fold).any():
            extra_scores[chosen] = estimator.decision_function(extra_arr[chosen].tolist())
    if progress is not None:
        progress("cross-validation", used, used)
    return OutOfFold(scores, assignment, extra_scores)
