"""End-to-end training: cross-validate, calibrate, choose thresholds, fit the final model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from classifier.calibration import fit_temperature, softmax
from classifier.crossval import Progress, out_of_fold_scores
from classifier.evaluation import Metrics, metrics_from_predictions
from classifier.model import TicketClassifier, check_training_data, resolve_solver
from classifier.thresholds import Thresholds, choose_thresholds


@dataclass(frozen=True)
class HeldOutPredictions:
    """Out-of-fold predictions kept so thresholds can be re-chosen without retraining."""

    predicted: np.ndarray
    confidences: np.ndarray
    gold: np.ndarray


@dataclass
class TrainedModel:
    """Bundle a fitted model with the thresholds and evidence that justify activating it."""

    model: TicketClassifier
    thresholds: Thresholds
    cv_metrics: Metrics
    label_counts: dict[str, int]
    n_examples: int
    cv_predictions: HeldOutPredictions
    n_unlabelled: int = 0


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    target_precision: float,
    folds: int = 5,
    confidence_level: float = 0.95,
    min_examples: int = 5,
    pipeline: str | None = None,
    progress: Progress | None = None,
    random_state: int = 0,
    solver: str = "auto",
    unlabelled_texts: Sequence[str] = (),
) -> TrainedModel:
    """Train a model whose thresholds are justified by held-out (out-of-fold) predictions.

    ``progress(stage, step, total)`` is called as work advances so a CLI can draw a bar.
    The solver is resolved once from the whole set, so the fold models whose scores tune
    the temperature and thresholds are the same kind as the final model.
    ``unlabelled_texts`` are the tickets that arrived but no person labelled (automated
    ones): with them, the thresholds guarantee precision over all tickets, not only over
    the hard ones people were asked about (``classifier.shift``).
    """
    texts, labels, classes, y_index = check_training_data(texts, labels)
    solver = resolve_solver(solver, len(texts))
    label_counts = dict(sorted(Counter(labels).items()))

    scores, held_out, unlabelled_scores = out_of_fold_scores(
        lambda: TicketClassifier(pipeline=pipeline, temperature=1.0, solver=solver),
        texts,
        labels,
        y_index,
        folds=folds,
        random_state=random_state,
        progress=progress,
        extra_texts=unlabelled_texts,
    )
    temperature = fit_temperature(scores[held_out], y_index[held_out])
    proba = softmax(scores[held_out], temperature)
    predicted = classes[proba.argmax(axis=1)]
    confidences = proba.max(axis=1)
    gold = np.asarray(labels, dtype=object)[held_out]
    population = None
    if len(unlabelled_scores):
        unlabelled_confidences = softmax(unlabelled_scores, temperature).max(axis=1)
        population = np.concatenate([confidences, unlabelled_confidences])
    thresholds = choose_thresholds(
        confidences,
        predicted,
        gold,
        target_precision=target_precision,
        confidence_level=confidence_level,
        label_counts=label_counts,
        min_examples=min_examples,
        population_confidences=population,
    )
    if progress is not None:
        progress("final model", 0, 1)
    model = TicketClassifier(pipeline=pipeline, temperature=temperature, solver=solver).fit(
        texts, labels
    )
    if progress is not None:
        progress("final model", 1, 1)
    return TrainedModel(
        model=model,
        thresholds=thresholds,
        cv_metrics=metrics_from_predictions(predicted, confidences, gold, thresholds),
        label_counts=label_counts,
        n_examples=len(texts),
        cv_predictions=HeldOutPredictions(predicted, confidences, gold),
        n_unlabelled=len(unlabelled_scores),
    )


def refit(model: TicketClassifier, texts: Sequence[str], labels: Sequence[str]) -> TicketClassifier:
    """The same recipe and temperature fitted on more data, once that recipe has been judged."""
    return clone(model).set_params(temperature=model.temperature_).fit(texts, labels)
