"""Reweighting the labelled sample towards all arriving tickets (classifier.shift)."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.shift import population_weights
from classifier.thresholds import choose_thresholds, effective_counts, guaranteed_threshold


def test_same_distribution_gives_unit_weights() -> None:
    confidences = np.linspace(0.1, 1.0, 1000)
    assert population_weights(confidences, confidences) == pytest.approx(np.ones(1000))


def test_weights_follow_the_population_share_of_each_bin() -> None:
    labelled = np.linspace(0.0, 1.0, 1000, endpoint=False)  # half below 0.5, half above
    population = np.concatenate([np.full(100, 0.25), np.full(900, 0.75)])  # 10 % / 90 %
    weights = population_weights(labelled, population, bins=2)
    assert weights[labelled < 0.5] == pytest.approx(0.2)
    assert weights[labelled >= 0.5] == pytest.approx(1.8)
    assert weights.mean() == pytest.approx(1.0)


def test_a_bin_the_population_never_reaches_weighs_nothing() -> None:
    labelled = np.linspace(0.0, 1.0, 100, endpoint=False)
    weights = population_weights(labelled, np.full(50, 0.9), bins=4)
    assert (weights[labelled < 0.75] == 0).all() and (weights[labelled >= 0.75] == 4).all()


def test_unit_weights_give_the_plain_bound_exactly() -> None:
    rng = np.random.default_rng(3)
    confidences = rng.uniform(0.3, 1.0, 4000)
    correct = rng.random(4000) < confidences
    plain = guaranteed_threshold(confidences, correct, target_precision=0.9, delta=0.05)
    weighted = guaranteed_threshold(
        confidences, correct, target_precision=0.9, delta=0.05, weights=np.ones(4000)
    )
    assert weighted == plain
    assert effective_counts(correct, np.ones(4000)) == (correct.sum(), 4000)


def test_uneven_weights_count_as_fewer_examples() -> None:
    correct = np.array([True] * 90 + [False] * 10)
    right, effective = effective_counts(correct, np.array([3.0] * 50 + [1.0] * 50))
    assert effective == pytest.approx(200**2 / (50 * 9 + 50))  # Kish: 80, not 100
    assert right / effective == pytest.approx((3 * 50 + 40) / 200)


def hard_labelled_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated confidences where people labelled mostly the doubtful tickets."""
    rng = np.random.default_rng(7)
    stream = np.clip(rng.beta(6, 1, 20_000), 0.3, 1.0)
    labelled = np.concatenate([stream[stream < 0.85], rng.choice(stream[stream >= 0.85], 1500)])
    correct = rng.random(labelled.size) < labelled
    return stream, labelled, correct


def test_thresholds_for_all_tickets_are_lower_than_for_the_hard_ones() -> None:
    stream, labelled, correct = hard_labelled_sample()
    predicted = np.array(["x"] * labelled.size, dtype=object)
    gold = np.where(correct, "x", "y")
    hard = choose_thresholds(labelled, predicted, gold, target_precision=0.9)
    everyone = choose_thresholds(
        labelled, predicted, gold, target_precision=0.9, population_confidences=stream
    )
    assert (stream >= everyone.default).mean() > (stream >= hard.default).mean() + 0.05
    # and the looser threshold still meets the target over the tickets that arrive,
    # whose confidences are calibrated by construction
    assert stream[stream >= everyone.default].mean() >= 0.9
