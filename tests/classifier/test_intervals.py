"""The Wilson interval against published values; prediction-powered precision on synthetic
populations whose true chances are known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from classifier import wilson_interval
from classifier.intervals import PoweredEstimate, prediction_powered_mean, weighted_powered_mean


def test_wilson_interval_matches_published_values() -> None:
    low, high = wilson_interval(81, 100)
    assert low == pytest.approx(0.7222, abs=1e-4) and high == pytest.approx(0.8749, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    narrow = wilson_interval(81, 100, confidence=0.5)
    assert low < narrow[0] and narrow[1] < 0.8749
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def _population(rng: np.random.Generator, size: int) -> np.ndarray:
    """Automated tickets' confidences: half all but certain, half doubtful."""
    return np.where(rng.random(size) < 0.5, 0.999, rng.uniform(0.4, 0.7, size))


def _powered(confidence: np.ndarray, correct: np.ndarray, audited: np.ndarray) -> PoweredEstimate:
    estimate = prediction_powered_mean(
        predicted_count=len(confidence),
        predicted_sum=float(confidence.sum()),
        predicted_squares=float((confidence**2).sum()),
        labelled=list(zip(confidence[audited].tolist(), correct[audited].tolist(), strict=True)),
    )
    assert estimate is not None
    return estimate


def _repeat(calibration: Any, runs: int = 1000, size: int = 3000, audits: int = 150) -> dict:
    """Per run: a population whose true chance of being right is calibration(confidence),
    its outcomes drawn, a random `audits` of them audited."""
    rng = np.random.default_rng(12)
    errors, plain_errors, widths, wilson_widths, covered, model_errors = [], [], [], [], [], []
    for _ in range(runs):
        confidence = _population(rng, size)
        correct = rng.random(size) < calibration(confidence)
        audited = rng.choice(size, audits, replace=False)
        truth = float(correct.mean())
        powered = _powered(confidence, correct, audited)
        share = float(correct[audited].mean())
        low, high = wilson_interval(int(correct[audited].sum()), audits)
        errors.append(powered.estimate - truth)
        plain_errors.append(share - truth)
        model_errors.append(powered.mean_prediction - truth)
        widths.append(powered.high - powered.low)
        wilson_widths.append(high - low)
        covered.append(powered.low <= truth <= powered.high)
    return {
        "bias": float(np.mean(errors)),
        "bias_se": float(np.std(errors) / np.sqrt(runs)),
        "rmse": float(np.sqrt(np.mean(np.square(errors)))),
        "plain_rmse": float(np.sqrt(np.mean(np.square(plain_errors)))),
        "model_bias": float(np.mean(model_errors)),
        "width": float(np.mean(widths)),
        "wilson_width": float(np.mean(wilson_widths)),
        "coverage": float(np.mean(covered)),
    }


def test_prediction_powered_precision_is_unbiased_when_the_model_is_overconfident() -> None:
    # True chance 15 points under the stated confidence: the model alone is far off
    runs = _repeat(lambda c: np.clip(c - 0.15, 0, 1))
    assert runs["model_bias"] > 0.1
    assert abs(runs["bias"]) < 3 * runs["bias_se"] + 0.002
    assert runs["coverage"] >= 0.92


def test_prediction_powered_precision_is_narrower_than_the_audit_share_when_calibrated() -> None:
    runs = _repeat(lambda c: c)
    assert abs(runs["bias"]) < 3 * runs["bias_se"] + 0.002
    # var(y - f) = E[f(1 - f)] against var(y): what a calibrated, spread model saves
    assert runs["rmse"] < 0.9 * runs["plain_rmse"]
    assert runs["width"] < 0.9 * runs["wilson_width"]
    assert runs["coverage"] >= 0.92


def test_prediction_powered_interval_is_not_empty_when_every_audit_agreed() -> None:
    confidence = np.full(1000, 0.98)
    correct = np.ones(1000, dtype=bool)
    estimate = _powered(confidence, correct, np.arange(80))
    assert estimate.estimate == pytest.approx(1.0)
    assert estimate.high == 1.0 and estimate.low < 0.97  # about Wilson's 95.4% for 80 of 80
    assert estimate.labelled == 80 and estimate.predicted == 1000
    empty = dict(predicted_count=10, predicted_sum=9.0, predicted_squares=8.1)
    assert prediction_powered_mean(**empty, labelled=[]) is None
    assert (
        prediction_powered_mean(
            predicted_count=0, predicted_sum=0, predicted_squares=0, labelled=[(0.9, True)]
        )
        is None
    )


def test_equal_chances_give_the_plain_powered_estimate() -> None:
    labelled = [(0.9, True), (0.8, False), (0.99, True), (0.7, True)]
    counts = {"predicted_count": 50, "predicted_sum": 45.0, "predicted_squares": 41.0}
    plain = prediction_powered_mean(**counts, labelled=labelled)
    weighted = weighted_powered_mean(**counts, labelled=[(f, y, 0.08) for f, y in labelled])
    assert plain is not None and weighted is not None
    assert weighted.estimate == pytest.approx(plain.estimate, abs=1e-12)
    assert (weighted.low, weighted.high) == pytest.approx((plain.low, plain.high), abs=1e-12)


def test_audits_drawn_by_importance_are_weighted_back_to_the_true_share() -> None:
    """Unsure tickets are audited far more often and are wrong far more often (the model is
    also 3 points overconfident on them): counted as drawn, the audits' rectifier would
    understate precision; weighted by the inverse of each one's chance, the estimate
    averages to the true share."""
    rng = np.random.default_rng(0)
    f = np.where(rng.random(4000) < 0.3, 0.85, 0.995)
    truth = np.clip(f - np.where(f < 0.9, 0.03, 0.0), 0, 1)
    chance = 0.02 * np.sqrt(f * (1 - f)) / np.sqrt(f * (1 - f)).mean()
    weighted, unweighted, true_shares = [], [], []
    for _ in range(400):
        y = rng.random(4000) < truth
        drawn = rng.random(4000) < chance
        sums = {
            "predicted_count": 4000,
            "predicted_sum": float(f.sum()),
            "predicted_squares": float((f**2).sum()),
        }
        rows = list(zip(f[drawn].tolist(), y[drawn].tolist(), chance[drawn].tolist(), strict=True))
        got = weighted_powered_mean(**sums, labelled=rows)
        naive = prediction_powered_mean(**sums, labelled=[(a, b) for a, b, _ in rows])
        assert got is not None and naive is not None
        weighted.append(got.estimate)
        unweighted.append(naive.estimate)
        true_shares.append(float(y.mean()))
    assert abs(np.mean(weighted) - np.mean(true_shares)) < 0.003
    assert np.mean(unweighted) < np.mean(true_shares) - 0.005
