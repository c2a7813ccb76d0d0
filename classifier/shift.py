"""Importance weights that make the labelled sample speak for every ticket that arrives.

People label the tickets the model doubted (reviews) plus a small random share of the rest
(audits); the confident majority is never labelled. Thresholds tuned on the labelled sample
alone are therefore tuned on the hardest tickets: in the human-in-the-loop benchmark the
automated tickets came out 97-98 % precise against a 95 % target, and automation suffered.

The correction reweights each labelled example by how much more (or less) common its
confidence level is among all tickets than among the labelled ones, estimated in quantile
bins of the labelled confidences. It assumes that, at a given confidence, a labelled ticket
is no easier than an unlabelled one. That holds in the direction that matters: a labelled
ticket was usually chosen because an earlier model doubted it, so it is harder than an
unlabelled ticket at the same confidence, and the reweighted estimate stays conservative.
Weighting by inverse audit rate instead (Horvitz-Thompson) is unbiased without that
assumption, but at a 2 % audit rate each audit weighs 50 and the effective sample collapsed:
no threshold could be justified at all (BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

BINS = 20


def population_weights(
    labelled: np.ndarray, population: np.ndarray, *, bins: int = BINS
) -> np.ndarray:
    """Weight per labelled confidence: population share of its bin over labelled share.

    Bins are quantiles of the labelled confidences, so every bin holds about the same number
    of labelled examples and no weight rests on a handful of them. The weights average 1
    over the labelled sample; a bin the population never reaches gets weight 0.
    """
    labelled = np.asarray(labelled, dtype=np.float64)
    population = np.asarray(population, dtype=np.float64)
    if labelled.size == 0 or population.size == 0:
        return np.ones_like(labelled)
    inner = np.unique(np.quantile(labelled, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    labelled_bin = np.searchsorted(inner, labelled, side="right")
    population_bin = np.searchsorted(inner, population, side="right")
    labelled_share = np.bincount(labelled_bin, minlength=inner.size + 1) / labelled.size
    population_share = np.bincount(population_bin, minlength=inner.size + 1) / population.size
    return population_share[labelled_bin] / labelled_share[labelled_bin]
