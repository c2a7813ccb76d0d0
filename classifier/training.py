"""End-to-end training: cross-validate, calibrate, choose thresholds, fit the final model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial, wraps
from typing import ParamSpec, TypeVar

import numpy as np
from sklearn.base import clone

from classifier.calibration import fit_temperature, softmax
from classifier.crossval import Progress, out_of_fold_scores
from classifier.embeddings import embed, reusing_embeddings
from classifier.evaluation import Metrics, metrics_from_predictions
from classifier.label_noise import ImportedNoise, imported_noise_bound, screen_labels
from classifier.model import TicketClassifier, check_training_data, resolve_solver
from classifier.novelty import Bank, fit_novelty_detector
from classifier.thresholds import Thresholds, choose_thresholds

# The share of known tickets the novelty detector may send to people by mistake. Chosen on
# Banking77 (benchmarks/novelty.py) with the confidence floor 0.6: most of its false alarms
# fall on tickets too unsure to be automated anyway, so 9% of known tickets flagged cost
# 2.8 points of coverage on all 77 intents at target 0.95 (limit 3) while sending the most
# new kinds of ticket to people.
FALSE_ALARM_RATE = 0.09
# Share of the wrong labels confident learning estimates that screening leaves out, surest
# first (see ``_screen``).
SCREENED_SHARE_OF_NOISE = 0.5


@dataclass(frozen=True)
class HeldOutPredictions:
    """Out-of-fold predictions kept so thresholds can be re-chosen without retraining."""

    predicted: np.ndarray
    confidences: np.ndarray
    gold: np.ndarray
    novelty: np.ndarray  # the novelty detector's score (all 0 without one)
    novel: np.ndarray  # flagged by it: held-out known tickets, so these are false alarms


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
    # Examples (indices into the training texts) confident learning judged mislabelled and
    # left out of the fit, most likely wrong first, with the label each probably has; and
    # the estimated share of wrong labels.
    screened: tuple[int, ...] = ()
    screened_as: tuple[str, ...] = ()
    noise_rate: float | None = None
    # The least share of imported labels shown wrong (``classifier.label_noise``), when
    # any example was imported; their threshold correction uses it.
    imported_noise: ImportedNoise | None = None
    # The global threshold the usual bound alone allows, when the rule for lowering the one
    # in force (``choose_thresholds``' ``standing``) kept it higher; None when it did not.
    held_from: float | None = None

    @property
    def novelty(self) -> dict[str, object] | None:
        """The novelty detector's measured false-alarm rate and recall, if it has one."""
        detector = getattr(self.model, "novelty_", None)
        return None if detector is None else detector.report()


Params = ParamSpec("Params")
Result = TypeVar("Result")


def _reusing(function: Callable[Params, Result]) -> Callable[Params, Result]:
    """Run ``function`` with each text embedded once (``reusing_embeddings``)."""

    @wraps(function)
    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        with reusing_embeddings():
            return function(*args, **kwargs)

    return wrapper


@_reusing
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
    other_texts: Sequence[str] = (),
    confidence_floor: float = 0.0,
    false_alarm_rate: float = FALSE_ALARM_RATE,
    screen: bool = False,
    confirmed: Sequence[bool] | None = None,
    screen_max_share: float = 0.2,
    label_error: float | Sequence[float] = 0.0,
    imported: Sequence[bool] | None = None,
    answer_error: float | Sequence[float] = 0.0,
    screen_error: float | Sequence[float] | None = None,
    encoder: str | None = None,
    standing_threshold: float | None = None,
) -> TrainedModel:
    """Train a model whose thresholds are justified by held-out (out-of-fold) predictions.

    ``progress(stage, step, total)`` is called as work advances so a CLI can draw a bar.
    The solver is resolved once from the whole set, so the fold models whose scores tune
    the temperature and thresholds are the same kind as the final model.
    ``unlabelled_texts`` are the tickets that arrived but no person labelled (automated
    ones): with them, the thresholds guarantee precision over all tickets, not only over
    the hard ones people were asked about (``classifier.shift``).
    ``other_texts`` are tickets people said fit no label; with the held-out predictions they
    calibrate the novelty detector (``classifier.novelty``) that sends tickets unlike the
    history to people whatever their confidence. ``confidence_floor`` is the least
    confidence any ticket needs on its own, whatever the average guarantee allows.
    ``encoder`` names the sentence encoder of the dense features and the novelty bank
    (``classifier.embeddings``; None: WordLlama); every text is embedded once per call.
    With ``screen``, confident learning (``classifier.label_noise``) on the out-of-fold
    probabilities finds labels that are probably wrong; those not ``confirmed`` (backed by
    agreeing answers) are left out of the final fit. Threshold tuning keeps them, counted
    against the model: on the HITL stream, leaving them out of tuning too dropped the
    threshold until true precision was 91% at target 95% (hard tickets the model gets
    wrong look like wrong labels, and removing them flatters the model).
    ``label_error`` is the estimated share of wrong labels, one figure or one per example
    (the least error its answerer is shown to make; 0 for a label people agreed on): the
    threshold's precision bound is corrected for it, over the examples each candidate
    threshold covers.
    ``imported`` marks labels from imported history (no names, no second answers): their
    error is bounded from below by how much more often the held-out model contradicts them
    than it contradicts answered labels (``imported_noise_bound``, with ``answer_error``
    the estimated error of each answered label), and that bound is their ``label_error``.
    ``screen_error`` (one figure or one per example: the estimated chance each label is
    wrong, from its answerer's estimated accuracy) caps how many answered labels screening
    may leave out at the number of wrong ones that figure expects; imported labels (no
    answerer to judge) stay capped by confident learning's own count. Without it, that
    count alone decides, and with an accurate team it is mostly hard tickets the model
    gets wrong: on the simulated exact team, 653 labels screened out, none of them wrong.
    ``standing_threshold`` is the global threshold of the model in force, when retraining
    replaces one: the new threshold goes below it only on stricter evidence
    (``choose_thresholds``' ``standing``).
    """
    texts, labels, classes, y_index = check_training_data(texts, labels)
    solver = resolve_solver(solver, len(texts))
    label_counts = dict(sorted(Counter(labels).items()))

    def fold_model() -> TicketClassifier:
        return TicketClassifier(pipeline=pipeline, temperature=1.0, solver=solver, encoder=encoder)

    scores, fold_of, unlabelled_scores = out_of_fold_scores(
        fold_model,
        texts,
        labels,
        y_index,
        folds=folds,
        random_state=random_state,
        progress=progress,
        extra_texts=unlabelled_texts,
    )
    held_out = fold_of >= 0
    temperature = fit_temperature(scores[held_out], y_index[held_out])
    screened, screened_as, noise_rate = (
        _screen(
            scores,
            held_out,
            temperature,
            y_index,
            classes,
            confirmed=confirmed,
            keep_per_label=max(min_examples, 2),
            max_share=screen_max_share,
            expected_error=None
            if screen_error is None
            else np.broadcast_to(np.asarray(screen_error, dtype=np.float64), len(texts)),
            imported=None if imported is None else np.asarray(imported, dtype=bool),
        )
        if screen
        else ((), (), None)
    )
    proba = softmax(scores[held_out], temperature)
    predicted = classes[proba.argmax(axis=1)]
    confidences = proba.max(axis=1)
    gold = np.asarray(labels, dtype=object)[held_out]
    errors = np.array(
        np.broadcast_to(np.asarray(label_error, dtype=np.float64), len(texts))[held_out]
    )
    imported_noise = None
    if imported is not None and any(imported):
        from_history = np.asarray(imported, dtype=bool)[held_out]
        imported_noise = imported_noise_bound(
            predicted == gold,
            confidences,
            from_history,
            np.broadcast_to(np.asarray(answer_error, dtype=np.float64), len(texts))[held_out],
            delta=1.0 - confidence_level,
        )
        errors[from_history] = np.maximum(errors[from_history], imported_noise.bound)
    population = None
    if len(unlabelled_scores):
        unlabelled_confidences = softmax(unlabelled_scores, temperature).max(axis=1)
        population = np.concatenate([confidences, unlabelled_confidences])
    tune = partial(
        choose_thresholds,
        confidences,
        predicted,
        gold,
        target_precision=target_precision,
        confidence_level=confidence_level,
        label_counts=label_counts,
        min_examples=min_examples,
        population_confidences=population,
        floor=confidence_floor,
        label_error=errors,
    )
    thresholds = tune(standing=standing_threshold)
    usual = thresholds.default if standing_threshold is None else tune().default
    embeddings = embed(texts, encoder)
    fitted = fit_novelty_detector(
        texts=texts,
        y_index=y_index,
        classes=classes,
        held_out_scores=scores,
        folds=fold_of,
        temperature=temperature,
        embeddings=embeddings,
        fit_fold_model=lambda t, y: fold_model().fit(t, y),
        false_alarm_rate=false_alarm_rate,
        other_embeddings=embed(other_texts, encoder) if other_texts else None,
        automate_from=thresholds.default,
        random_state=random_state,
        progress=progress,
    )
    novelty = np.zeros(len(texts)) if fitted is None else fitted.held_out_novelty
    novel = np.zeros(len(texts), dtype=bool) if fitted is None else fitted.held_out_novel
    if progress is not None:
        progress("final model", 0, 1)
    kept = np.setdiff1d(np.arange(len(texts)), screened)
    model = TicketClassifier(
        pipeline=pipeline, temperature=temperature, solver=solver, encoder=encoder
    ).fit([texts[i] for i in kept], [labels[i] for i in kept])
    if fitted is not None:
        model.novelty_ = fitted.detector
    if progress is not None:
        progress("final model", 1, 1)
    return TrainedModel(
        model=model,
        thresholds=thresholds,
        cv_metrics=metrics_from_predictions(
            predicted, confidences, gold, thresholds, novel=novel[held_out]
        ),
        label_counts=label_counts,
        n_examples=len(texts),
        cv_predictions=HeldOutPredictions(
            predicted, confidences, gold, novelty[held_out], novel[held_out]
        ),
        n_unlabelled=len(unlabelled_scores),
        screened=screened,
        screened_as=screened_as,
        noise_rate=noise_rate,
        imported_noise=imported_noise,
        held_from=usual if usual < thresholds.default else None,
    )


def _screen(
    scores: np.ndarray,
    held_out: np.ndarray,
    temperature: float,
    y_index: np.ndarray,
    classes: np.ndarray,
    *,
    confirmed: Sequence[bool] | None,
    keep_per_label: int,
    max_share: float,
    expected_error: np.ndarray | None = None,
    imported: np.ndarray | None = None,
) -> tuple[tuple[int, ...], tuple[str, ...], float]:
    """Suspected wrong labels to leave out, most likely first, and the estimated noise rate.

    A confirmed label is never left out, nor one whose label would keep fewer than
    ``keep_per_label`` examples: screening must not erase a rare label. With
    ``expected_error`` (per example), answered (not ``imported``) labels are left out only
    up to the number of wrong ones it expects among the held-out examples, rounded.
    """
    rows = np.flatnonzero(held_out)
    proba = softmax(scores[rows], temperature)
    found = screen_labels(
        [str(classes[y]) for y in y_index[rows]],
        proba,
        [str(c) for c in classes],
        max_share=max_share,
    )
    # Only the surest half of the estimated wrong labels: further down the ranking come
    # hard tickets the model gets wrong, and leaving those out of threshold tuning would
    # flatter the model's precision.
    wanted = int(SCREENED_SHARE_OF_NOISE * found.noise_rate * len(rows))
    sure = np.zeros(len(y_index), dtype=bool) if confirmed is None else np.asarray(confirmed)
    left = np.bincount(y_index, minlength=len(classes))
    from_history = np.zeros(len(y_index), dtype=bool) if imported is None else imported
    answered_budget = (
        len(rows)
        if expected_error is None
        else int(round(float(expected_error[rows][~from_history[rows]].sum())))
    )
    chosen: list[int] = []
    chosen_as: list[str] = []
    for suspect, label in zip(found.suspects, found.suggested, strict=True):
        if len(chosen) >= wanted:
            break
        example = int(rows[suspect])
        if sure[example] or left[y_index[example]] <= keep_per_label:
            continue
        if not from_history[example]:
            if answered_budget <= 0:
                continue
            answered_budget -= 1
        left[y_index[example]] -= 1
        chosen.append(example)
        chosen_as.append(label)
    return tuple(chosen), tuple(chosen_as), found.noise_rate


@_reusing
def refit(model: TicketClassifier, texts: Sequence[str], labels: Sequence[str]) -> TicketClassifier:
    """The same recipe and temperature fitted on more data, once that recipe has been judged.

    The novelty detector keeps its calibration and gets the new examples as its bank.
    """
    refitted = clone(model).set_params(temperature=model.temperature_).fit(texts, labels)
    detector = getattr(model, "novelty_", None)
    if detector is not None:
        y_index = np.searchsorted(refitted.classes_, np.asarray(labels, dtype=str))
        bank = Bank.build(
            refitted.embed(texts), y_index, len(refitted.classes_), other=detector.other_embeddings_
        )
        refitted.novelty_ = detector.with_bank(bank)
    return refitted
