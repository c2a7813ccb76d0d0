"""Confidence intervals for a proportion, shared by the service's figures and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: honest with few audits, unlike p ± z·se."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - margin)
    high = 1.0 if successes == n else min(1.0, centre + margin)
    return (low, high)


@dataclass(frozen=True)
class PoweredEstimate:
    """A share estimated by prediction-powered inference, with its normal interval.

    `estimate` = the mean predicted chance over every predicted item + the mean rectifier
    (outcome - predicted chance) over the labelled ones, drawn at random from them.
    """

    estimate: float
    low: float
    high: float
    labelled: int  # items with a known outcome (answered audits)
    predicted: int  # items with a predicted chance (automated tickets)
    mean_prediction: float  # the model's own estimate: its mean predicted chance
    rectifier: float  # mean (outcome - predicted chance) over the labelled items


# Pseudo-outcomes the rectifier's variance is computed with, as Agresti and Coull add about
# z^2 = 4 to a proportion: two right and two wrong at the labelled items' mean chance, so a
# sample where every outcome matched its prediction does not claim a zero-width interval.
PSEUDO_OUTCOMES = (True, True, False, False)


def prediction_powered_mean(
    *,
    predicted_count: int,
    predicted_sum: float,
    predicted_squares: float,
    labelled: Sequence[tuple[float, bool]],
    confidence: float = 0.95,
) -> PoweredEstimate | None:
    """Prediction-powered inference for the mean of a 0/1 outcome (Angelopoulos et al.,
    Science 2023), from predicted chances f and a random labelled subset.

    theta = mean_N f + mean_n (y - f). It is unbiased whatever f is (the rectifier removes
    f's bias on average), and its variance, var(f)/N + var(y - f)/n, falls from the plain
    share's var(y)/n to the rectifier's when f is calibrated and spread: with no better
    chances than the model's, no unbiased estimate does better (var(y | x) is left). The
    predicted items are given by their count, sum and sum of squares (so SQL can aggregate
    them); `labelled` holds each labelled item's (predicted chance, outcome). None: either
    side is empty.
    """
    return weighted_powered_mean(
        predicted_count=predicted_count,
        predicted_sum=predicted_sum,
        predicted_squares=predicted_squares,
        labelled=[(f, y, 1.0) for f, y in labelled],
        confidence=confidence,
    )


def weighted_powered_mean(
    *,
    predicted_count: int,
    predicted_sum: float,
    predicted_squares: float,
    labelled: Sequence[tuple[float, bool, float]],
    confidence: float = 0.95,
) -> PoweredEstimate | None:
    """``prediction_powered_mean`` for labelled items drawn with unequal chances: each of
    `labelled` is (predicted chance, outcome, chance it was drawn), and its rectifier is
    weighted by the inverse of that chance (Hájek), so an audit drawn because the model
    was unsure stands for the several unsure tickets not drawn. Equal chances give
    ``prediction_powered_mean`` exactly; the interval's variance is the weighted one
    (Σ w²(r - r̄)² / (Σ w)²), with the same four pseudo-outcomes at the mean weight.
    """
    n = len(labelled)
    if n == 0 or predicted_count <= 0:
        return None
    mean_f = predicted_sum / predicted_count
    var_f = 0.0
    if predicted_count > 1:
        spread = predicted_squares - predicted_count * mean_f * mean_f
        var_f = max(0.0, spread / (predicted_count - 1))
    weights = [1.0 / chance for _, _, chance in labelled]
    total = sum(weights)
    rectifiers = [float(y) - f for f, y, _ in labelled]
    rectifier = sum(w * r for w, r in zip(weights, rectifiers, strict=True)) / total
    labelled_mean = sum(w * f for w, (f, _, _) in zip(weights, labelled, strict=True)) / total
    mean_weight = total / n
    padded = list(zip(weights, rectifiers, strict=True)) + [
        (mean_weight, float(y) - labelled_mean) for y in PSEUDO_OUTCOMES
    ]
    padded_total = sum(w for w, _ in padded)
    centre = sum(w * r for w, r in padded) / padded_total
    spread_r = sum(w * w * (r - centre) ** 2 for w, r in padded)
    # Σ w²(r - r̄)² / (Σ w)², scaled so equal weights give the sample variance over n.
    var_mean_r = spread_r / padded_total**2 * len(padded) / (len(padded) - 1)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    margin = z * math.sqrt(var_f / predicted_count + var_mean_r * len(padded) / n)
    estimate = mean_f + rectifier
    return PoweredEstimate(
        estimate=min(1.0, max(0.0, estimate)),
        low=min(1.0, max(0.0, estimate - margin)),
        high=min(1.0, max(0.0, estimate + margin)),
        labelled=n,
        predicted=predicted_count,
        mean_prediction=mean_f,
        rectifier=rectifier,
    )
