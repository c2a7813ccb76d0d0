"""Confident learning on a data set with planted wrong labels."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.label_noise import imported_noise_bound, residual_error, screen_labels
from classifier.thresholds import NEVER, guaranteed_threshold

CLASSES = [f"c{k}" for k in range(5)]


def _planted(seed: int, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian classes, their exact posteriors as the 'out-of-fold' probabilities, and
    labels of which a share ``noise`` was changed to another class."""
    rng = np.random.default_rng(seed)
    n, k = 2000, len(CLASSES)
    truth = rng.integers(k, size=n)
    means = rng.normal(size=(k, 8)) * 1.2
    points = means[truth] + rng.normal(size=(n, 8))
    logits = -0.5 * ((points[:, None, :] - means[None]) ** 2).sum(axis=-1)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    given = truth.copy()
    flipped = rng.random(n) < noise
    given[flipped] = (truth[flipped] + rng.integers(1, k, size=int(flipped.sum()))) % k
    return proba, given, flipped


def test_estimates_the_planted_noise_rate_and_finds_the_wrong_labels() -> None:
    proba, given, flipped = _planted(seed=0, noise=0.08)
    screening = screen_labels([CLASSES[g] for g in given], proba, CLASSES)
    assert abs(screening.noise_rate - flipped.mean()) < 0.04
    wrong = set(np.flatnonzero(flipped).tolist())
    suspects = screening.suspects.tolist()
    caught = len(wrong & set(suspects))
    assert caught / len(suspects) > 0.7  # most suspects are wrong labels
    assert caught / len(wrong) > 0.6  # most wrong labels are suspected
    top = suspects[:50]
    assert sum(s in wrong for s in top) >= 45  # the ranking puts the surest first
    assert len(screening.suggested) == len(suspects)


def test_clean_labels_give_few_suspects_and_a_small_rate() -> None:
    proba, given, _ = _planted(seed=1, noise=0.0)
    screening = screen_labels([CLASSES[g] for g in given], proba, CLASSES)
    assert screening.noise_rate < 0.06
    assert len(screening.suspects) < 0.06 * len(given)


def test_never_suspects_more_than_the_cap() -> None:
    proba, given, _ = _planted(seed=2, noise=0.3)
    screening = screen_labels([CLASSES[g] for g in given], proba, CLASSES, max_share=0.05)
    assert len(screening.suspects) <= 0.05 * len(given)


def test_residual_error_assumes_every_removed_suspect_was_wrong() -> None:
    assert residual_error(0.1, 1000, 60) == (100 - 60) / 940
    assert residual_error(0.05, 1000, 80) == 0.0


def _imported(seed: int, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian classes with exact posteriors; three quarters of the labels imported, a
    share ``noise`` of those wrong, the rest answered right. Returns the posteriors, the
    given and true labels, and the imported mask."""
    rng = np.random.default_rng(seed)
    n, k = 4000, len(CLASSES)
    truth = rng.integers(k, size=n)
    means = rng.normal(size=(k, 8)) * 1.2
    points = means[truth] + rng.normal(size=(n, 8))
    logits = -0.5 * ((points[:, None, :] - means[None]) ** 2).sum(axis=-1)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    imported = np.arange(n) < 3 * n // 4
    flipped = (rng.random(n) < noise) & imported
    given = truth.copy()
    given[flipped] = (truth[flipped] + rng.integers(1, k, size=int(flipped.sum()))) % k
    return proba, given, truth, imported


def test_the_imported_noise_bound_stays_under_the_planted_rate_and_at_zero_without_noise() -> None:
    for seed in range(10):
        proba, given, truth, imported = _imported(seed, noise=0.08)
        predicted, confidences = proba.argmax(axis=1), proba.max(axis=1)
        found = imported_noise_bound(
            predicted == given, confidences, imported, np.zeros(len(given)), delta=0.05
        )
        confident = confidences >= np.median(confidences)
        planted = float((given != truth)[confident & imported].mean())
        assert 0.03 < found.bound < planted  # shows most of it, never more than there is
        assert found.imported + found.trusted == int(confident.sum())
        clean = imported_noise_bound(
            predicted == truth, confidences, imported, np.zeros(len(given)), delta=0.05
        )
        assert clean.bound == 0.0


def test_answered_labels_own_error_and_missing_answers_leave_nothing_to_correct() -> None:
    proba, given, _, imported = _imported(0, noise=0.08)
    predicted, confidences = proba.argmax(axis=1), proba.max(axis=1)
    agrees = predicted == given
    sure = imported_noise_bound(agrees, confidences, imported, np.zeros(len(given)), delta=0.05)
    doubted = imported_noise_bound(
        agrees, confidences, imported, np.full(len(given), 0.03), delta=0.05
    )
    assert doubted.bound == pytest.approx(max(0.0, sure.bound - 0.03))
    assert doubted.trusted_error > sure.trusted_error
    alone = imported_noise_bound(
        agrees, confidences, np.ones(len(given), dtype=bool), np.zeros(len(given)), delta=0.05
    )
    assert alone.bound == 0.0 and alone.trusted == 0  # no answered labels: no evidence


def test_thresholds_corrected_for_imported_noise_automate_what_noisy_labels_refuse() -> None:
    proba, given, truth, imported = _imported(0, noise=0.08)
    predicted, confidences = proba.argmax(axis=1), proba.max(axis=1)
    found = imported_noise_bound(
        predicted == given, confidences, imported, np.zeros(len(given)), delta=0.05
    )
    noisy = guaranteed_threshold(confidences, predicted == given, target_precision=0.95, delta=0.05)
    corrected = guaranteed_threshold(
        confidences,
        predicted == given,
        target_precision=0.95,
        delta=0.05,
        label_error=np.where(imported, found.bound, 0.0),
    )
    assert noisy == NEVER  # measured against the imported labels nothing reaches 95%
    covered = confidences >= corrected
    assert covered.mean() > 0.5
    assert (predicted == given)[covered].mean() < 0.95  # noisy-label precision: under target
    assert (predicted == truth)[covered].mean() >= 0.95  # true precision: above it
