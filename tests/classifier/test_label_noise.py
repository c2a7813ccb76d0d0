"""Confident learning on a data set with planted wrong labels."""

from __future__ import annotations

import numpy as np

from classifier.label_noise import residual_error, screen_labels

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
