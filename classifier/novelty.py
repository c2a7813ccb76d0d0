"""Novelty: is a ticket unlike anything the model learned? Scored, calibrated, measured.

A confidence threshold guarantees precision *on average over tickets like the history*. A
ticket of a kind nobody labelled (a new product, an outage, a new fraud) is not like the
history, and the model, which must name one of the labels it knows, can be confident
about it anyway: on Banking77 with 27 of 77 intents withheld, three quarters of the
withheld intents' tickets cleared the tuned threshold. This module gives every ticket a
novelty score and a verdict with a stated false-alarm rate, so such tickets reach people.

The score is a logistic combination of features the model already has (``FEATURES``): the
calibrated confidence, the gap to the runner-up, the energy of the scores (log-sum-exp),
the entropy, the top score and its lead over the runner-up, and the cosine similarities
of the ticket's embedding to the nearest labelled ticket, to the nearest one of the
predicted label (and its lead over the nearest of any other label), to the second-nearest
label and to the five nearest labels on average. The combination is learned from
*pseudo-novel* tickets: a few extra fits leave a third of the labels out, and their
tickets, scored by a model that never saw their label, are exactly "a kind of ticket the
model never learned" from this very domain (leave-labels-out, as in open-set intent
detection). It is fitted on the tickets confident enough to be automated (``automate_from``):
a false alarm on a ticket that goes to people anyway costs nothing, so the combination
need only tell novel from known where the gate would otherwise automate. The cutoff is
then set on known tickets' out-of-fold scores at the conformal quantile, so a known ticket
is flagged with probability at most ``false_alarm_rate``; recall is measured on pseudo-novel
tickets the combination was not fitted on (cross-fitted over the rounds).

Tickets people answered "none of these" are kept in the bank as *other*: a ticket whose
nearest neighbour is one of them (at least as close as any labelled ticket) is novel too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from classifier.calibration import softmax
from classifier.crossval import ScoringEstimator

FEATURES = (
    "confidence",
    "margin",
    "energy",
    "nearest",
    "nearest_same_label",
    "entropy",
    "score_lead",
    "top_score",
    "same_label_lead",
    "second_label_similarity",
    "top5_label_similarity",
)
# Detectors stored before the last six features existed combine the first five only (the
# order above is kept for them; see ``NoveltyDetector._combine``).
TOP_LABELS = 5  # labels averaged in "top5_label_similarity"
# The combination is fitted on confident tickets only when both kinds have at least this
# many of them; otherwise on all (a small history, or a bar almost nothing clears).
MIN_FIT_TICKETS = 50
# The nearest-neighbour bank holds at most this many labelled tickets (a stratified sample
# beyond it): 10 MB of float32 at 256 dimensions, and one text scores against it in well
# under a millisecond. Calibration samples its fold banks the same way.
BANK_MAX = 10_000
ROUNDS = 3  # leave-labels-out fits; each costs about two thirds of one cross-validation fit
HELD_OUT_LABEL_SHARE = 1 / 3  # as in the 27-of-77 protocol (benchmarks/novelty.py)
MIN_LABELS = 4  # fewer, and leaving a third out leaves too little to learn from
SIMILARITY_CHUNK = 2_048  # query rows per similarity block (bounds memory on big batches)

Progress = Callable[[str, int, int], None]


class FoldModel(ScoringEstimator, Protocol):
    """A fitted cross-validation model: decision scores in the order of its classes."""

    classes_: np.ndarray


FitFoldModel = Callable[[list[str], list[str]], FoldModel]


@dataclass(frozen=True)
class Bank:
    """Unit embeddings of labelled tickets grouped by label, plus the "none of these" ones.

    ``starts[c]:starts[c + 1]`` are the rows of class ``c`` (empty for a class with no
    example in the bank); rows are float32 so scoring needs no conversion per call.
    """

    embeddings: np.ndarray
    starts: np.ndarray
    other: np.ndarray

    @classmethod
    def build(
        cls,
        embeddings: np.ndarray,
        labels: np.ndarray,
        n_classes: int,
        *,
        other: np.ndarray | None = None,
        random_state: int = 0,
    ) -> Bank:
        """Group rows by label, keeping a stratified sample of BANK_MAX when there are more."""
        labels = np.asarray(labels, dtype=np.intp)
        keep = np.arange(len(labels))
        if len(keep) > BANK_MAX:
            rng = np.random.default_rng(random_state)
            keep = np.sort(rng.choice(len(labels), size=BANK_MAX, replace=False))
        order = keep[np.argsort(labels[keep], kind="stable")]
        counts = np.bincount(labels[order], minlength=n_classes)
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        others = np.zeros((0, embeddings.shape[1])) if other is None else np.asarray(other)
        return cls(
            np.ascontiguousarray(embeddings[order], dtype=np.float32),
            starts,
            np.ascontiguousarray(others, dtype=np.float32),
        )

    def similarities(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per query: the best cosine similarity to each class (-1 for none), and to "other"."""
        n_classes = len(self.starts) - 1
        queries = np.asarray(queries, dtype=np.float32)
        per_class = np.full((len(queries), n_classes), -1.0)
        other = np.full(len(queries), -1.0)
        present = np.flatnonzero(np.diff(self.starts) > 0)
        for start in range(0, len(queries), SIMILARITY_CHUNK):
            block = queries[start : start + SIMILARITY_CHUNK]
            if len(present):
                sims = block @ self.embeddings.T
                per_class[start : start + len(block), present] = np.maximum.reduceat(
                    sims, self.starts[present], axis=1
                )
            if len(self.other):
                other[start : start + len(block)] = (block @ self.other.T).max(axis=1)
        return per_class, other


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """``scipy.special.logsumexp(a, axis=1)`` for finite real rows, to the bit: the same
    steps (the row's maxima taken out of the sum and counted, ``log1p`` of the rest), without
    scipy's array-API dispatch, which cost six times the arithmetic for one ticket's row."""
    a_max = np.max(a, axis=1, keepdims=True)
    at_max = a == a_max
    m = np.sum(at_max, axis=1, keepdims=True, dtype=a.dtype)
    exp = np.exp(np.where(at_max, -np.inf, a) - a_max)
    s = np.sum(exp, axis=1, keepdims=True, dtype=exp.dtype)
    s = np.where(s == 0, s, s / m)
    return (np.log1p(s) + np.log(m) + a_max)[:, 0]


def novelty_features(
    scores: np.ndarray, temperature: float, per_class_similarity: np.ndarray
) -> np.ndarray:
    """The FEATURES of each ticket, from its decision scores and its bank similarities."""
    scores = np.asarray(scores, dtype=np.float64)
    per_class_similarity = np.asarray(per_class_similarity, dtype=np.float64)
    proba = softmax(scores, temperature)
    top_two = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.hstack([proba, proba])
    top_scores = np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.hstack([scores] * 2)
    predicted = scores.argmax(axis=1)
    rows = np.arange(len(scores))
    same_label = per_class_similarity[rows, predicted]
    other_labels = per_class_similarity.copy()
    other_labels[rows, predicted] = -np.inf
    by_label = np.sort(per_class_similarity, axis=1)
    second = by_label[:, -2] if by_label.shape[1] > 1 else by_label[:, -1]
    entropy = -(proba * np.log(np.clip(proba, 1e-12, 1.0))).sum(axis=1)
    return np.column_stack(
        [
            top_two[:, -1],
            top_two[:, -1] - top_two[:, 0],
            temperature * logsumexp_rows(scores / temperature),
            by_label[:, -1],
            same_label,
            entropy,
            top_scores[:, -1] - top_scores[:, 0],
            top_scores[:, -1],
            same_label - (other_labels.max(axis=1) if scores.shape[1] > 1 else same_label),
            second,
            by_label[:, -TOP_LABELS:].mean(axis=1),
        ]
    )


class NoveltyDetector(BaseEstimator):
    """Flag tickets unlike the labelled history, at a stated false-alarm rate on known ones.

    Built by ``fit_novelty_detector`` (it needs cross-validation's held-out scores, which a
    plain ``fit(X, y)`` cannot see); ``score`` is what prediction calls.
    """

    def __init__(self, false_alarm_rate: float = 0.05) -> None:
        self.false_alarm_rate = false_alarm_rate

    def _combine(self, features: np.ndarray) -> np.ndarray:
        features = features[:, : len(self.coef_)]  # a stored detector may know fewer
        z = (features - self.mean_) / self.scale_ @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def score(
        self, scores: np.ndarray, embeddings: np.ndarray, *, temperature: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Novelty in [0, 1] per ticket, and whether it counts as novel.

        Novel: above the calibrated cutoff, or closer to a "none of these" ticket than to
        any labelled one.
        """
        novelty, novel, _ = self.score_with_nearest(scores, embeddings, temperature=temperature)
        return novelty, novel

    def score_with_nearest(
        self, scores: np.ndarray, embeddings: np.ndarray, *, temperature: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``score``, plus each ticket's similarity to its nearest labelled ticket: intake
        compares it with "none of these" tickets answered since this model was trained."""
        bank = Bank(self.bank_embeddings_, self.bank_starts_, self.other_embeddings_)
        per_class, other = bank.similarities(embeddings)
        nearest = per_class.max(axis=1)
        novelty = self._combine(novelty_features(scores, temperature, per_class))
        novel = (novelty > self.cutoff_) | (other >= nearest)
        return novelty, novel, nearest

    def with_bank(self, bank: Bank) -> NoveltyDetector:
        """The same calibrated detector over another bank (the final model's whole set).

        The cutoff was set with fold banks of four fifths of the examples; a fuller bank
        only brings known tickets closer to their neighbours, so false alarms can only fall.
        """
        detector = NoveltyDetector(false_alarm_rate=self.false_alarm_rate)
        detector.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        detector.bank_embeddings_, detector.bank_starts_ = bank.embeddings, bank.starts
        detector.other_embeddings_ = bank.other
        return detector

    def report(self) -> dict[str, Any]:
        """What the detector was measured to do on held-out data (stored with the model)."""
        return {
            "false_alarm_target": self.false_alarm_rate,
            "false_alarm_measured": self.measured_false_alarm_,
            "recall_held_out_labels": None if math.isnan(self.recall_) else self.recall_,
            "pseudo_novel_tickets": self.n_pseudo_novel_,
            "other_examples": len(self.other_embeddings_),
        }


def closer_to_other(embeddings: np.ndarray, nearest: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per ticket, whether some "none of these" ticket in ``other`` is at least as close to
    it as ``nearest`` (its similarity to the nearest labelled ticket): the detector's own
    rule, applied to unlabelled tickets answered after the model was trained."""
    if len(embeddings) == 0 or len(other) == 0:
        return np.zeros(len(embeddings), dtype=bool)
    queries = np.asarray(embeddings, dtype=np.float32)
    best = (queries @ np.asarray(other, dtype=np.float32).T).max(axis=1)
    return np.asarray(best >= np.asarray(nearest), dtype=bool)


def conformal_cutoff(known_scores: np.ndarray, false_alarm_rate: float) -> float:
    """The score above which at most ``false_alarm_rate`` of exchangeable known tickets fall.

    The ceil((n + 1)(1 - alpha))-th smallest calibration score: with n held-out known
    tickets, a new known ticket exceeds it with probability at most alpha.
    """
    ordered = np.sort(np.asarray(known_scores, dtype=np.float64))
    rank = math.ceil((len(ordered) + 1) * (1.0 - false_alarm_rate))
    return math.inf if rank > len(ordered) else float(ordered[rank - 1])


class NoveltyFit(NamedTuple):
    """The calibrated detector with each example's held-out novelty (NaN if never held out)."""

    detector: NoveltyDetector
    held_out_novelty: np.ndarray

    @property
    def held_out_novel(self) -> np.ndarray:
        """The held-out known examples the detector flagged: its false alarms."""
        return np.nan_to_num(self.held_out_novelty, nan=0.0) > self.detector.cutoff_


@dataclass(frozen=True)
class _Round:
    """One leave-labels-out fit: features of held-out known and pseudo-novel tickets."""

    known: np.ndarray
    novel: np.ndarray


def fit_novelty_detector(
    *,
    texts: Sequence[str],
    y_index: np.ndarray,
    classes: np.ndarray,
    held_out_scores: np.ndarray,
    folds: np.ndarray,
    temperature: float,
    embeddings: np.ndarray,
    fit_fold_model: FitFoldModel,
    false_alarm_rate: float,
    other_embeddings: np.ndarray | None = None,
    automate_from: float = 0.0,
    rounds: int = ROUNDS,
    random_state: int = 0,
    progress: Progress | None = None,
) -> NoveltyFit | None:
    """Learn and calibrate the detector from cross-validation; None with too few labels (or
    when no false alarm is allowed: novelty detection is then off).

    ``held_out_scores``/``folds`` are cross-validation's out-of-fold decision scores and
    fold per example (-1: never held out); ``fit_fold_model(texts, labels)`` fits the same
    kind of model cross-validation used. ``automate_from`` is the confidence from which the
    gate would automate a ticket (the tuned threshold): the combination is fitted on the
    tickets at or above it. The cutoff is still calibrated on all held-out known tickets,
    so the false-alarm rate keeps its meaning.
    """
    n_classes = len(classes)
    used = sorted(set(folds[folds >= 0].tolist()))
    if n_classes < MIN_LABELS or not used or false_alarm_rate <= 0:
        return None
    known = _held_out_known_features(held_out_scores, folds, temperature, embeddings, y_index)
    held = folds >= 0
    rng = np.random.default_rng(random_state)
    texts_arr, labels = np.asarray(texts, dtype=object), np.asarray(classes)[y_index]
    pseudo = []
    for number in range(rounds):
        if progress is not None:
            progress("novelty", number, rounds)
        left_out = rng.choice(
            n_classes, size=max(1, round(n_classes * HELD_OUT_LABEL_SHARE)), replace=False
        )
        pseudo.append(
            _leave_labels_out(
                texts_arr,
                labels,
                y_index,
                folds,
                used[number % len(used)],
                left_out,
                temperature,
                embeddings,
                fit_fold_model,
            )
        )
    if progress is not None:
        progress("novelty", rounds, rounds)
    detector = _fit_combination(pseudo, false_alarm_rate, automate_from)
    calibrated = detector._combine(known[held])
    detector.cutoff_ = conformal_cutoff(calibrated, false_alarm_rate)
    detector.measured_false_alarm_ = float((calibrated > detector.cutoff_).mean())
    detector.recall_ = _cross_fitted_recall(pseudo, known[held], false_alarm_rate, automate_from)
    detector.n_pseudo_novel_ = int(sum(len(r.novel) for r in pseudo))
    bank = Bank.build(embeddings, y_index, n_classes, other=other_embeddings)
    novelty = np.full(len(folds), np.nan)
    novelty[held] = calibrated
    return NoveltyFit(detector.with_bank(bank), novelty)


def _held_out_known_features(
    scores: np.ndarray,
    folds: np.ndarray,
    temperature: float,
    embeddings: np.ndarray,
    y_index: np.ndarray,
) -> np.ndarray:
    """Features of each held-out example against the bank of the folds that trained on it
    (rows of examples never held out stay NaN)."""
    n_classes = scores.shape[1]
    features = np.full((len(folds), len(FEATURES)), np.nan)
    for fold in sorted(set(folds[folds >= 0].tolist())):
        held = folds == fold
        bank = Bank.build(embeddings[~held], y_index[~held], n_classes)
        per_class, _ = bank.similarities(embeddings[held])
        features[held] = novelty_features(scores[held], temperature, per_class)
    return features


def _leave_labels_out(
    texts: np.ndarray,
    labels: np.ndarray,
    y_index: np.ndarray,
    folds: np.ndarray,
    fold: int,
    left_out: np.ndarray,
    temperature: float,
    embeddings: np.ndarray,
    fit_fold_model: FitFoldModel,
) -> _Round:
    """Fit without ``fold`` and without the left-out labels; score that fold's tickets."""
    novel_label = np.isin(y_index, left_out)
    train = (folds != fold) & ~novel_label
    model = fit_fold_model(texts[train].tolist(), labels[train].tolist())
    model_classes = np.asarray(model.classes_)
    bank_labels = np.searchsorted(model_classes, labels[train])
    bank = Bank.build(embeddings[train], bank_labels, len(model_classes))
    parts = []
    for mask in ((folds == fold) & ~novel_label, (folds == fold) & novel_label):
        scores = model.decision_function(texts[mask].tolist())
        per_class, _ = bank.similarities(embeddings[mask])
        parts.append(novelty_features(scores, temperature, per_class))
    return _Round(*parts)


def _fit_combination(
    rounds: list[_Round], false_alarm_rate: float, automate_from: float = 0.0
) -> NoveltyDetector:
    """Standardise the features and fit the logistic combination known-vs-pseudo-novel, on
    the tickets confident enough to be automated (all, if either kind has too few).

    Measured on Banking77 (benchmarks/novelty.py): fitted on all tickets, the combination
    spends much of its weight telling apart tickets that go to people anyway; fitted where
    the gate automates, its false alarms fall more on low-confidence tickets, so the same
    false-alarm rate costs less coverage and catches more new kinds of ticket.
    """
    features = np.vstack([part for r in rounds for part in (r.known, r.novel)])
    target = np.concatenate([np.r_[np.zeros(len(r.known)), np.ones(len(r.novel))] for r in rounds])
    confident = features[:, FEATURES.index("confidence")] >= automate_from
    if min(int((confident & (target == 0)).sum()), int((confident & (target == 1)).sum())) >= (
        MIN_FIT_TICKETS
    ):
        features, target = features[confident], target[confident]
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(max_iter=1_000).fit((features - mean) / scale, target)
    detector = NoveltyDetector(false_alarm_rate=false_alarm_rate)
    detector.mean_, detector.scale_ = mean, scale
    detector.coef_ = fitted.coef_[0].copy()
    detector.intercept_ = float(fitted.intercept_[0])
    return detector


def _cross_fitted_recall(
    rounds: list[_Round], known: np.ndarray, false_alarm_rate: float, automate_from: float = 0.0
) -> float:
    """Share of each round's pseudo-novel tickets flagged by a combination fitted without it."""
    if len(rounds) < 2:
        return float("nan")
    caught, total = 0, 0
    for index, round_ in enumerate(rounds):
        others = [r for i, r in enumerate(rounds) if i != index]
        detector = _fit_combination(others, false_alarm_rate, automate_from)
        cutoff = conformal_cutoff(detector._combine(known), false_alarm_rate)
        caught += int((detector._combine(round_.novel) > cutoff).sum())
        total += len(round_.novel)
    return caught / total if total else float("nan")
