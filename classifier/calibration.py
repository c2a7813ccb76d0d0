"""Temperature scaling and calibration error: turning decision scores into honest confidences."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from scipy.special import softmax as _scipy_softmax

_LOG_T_BOUNDS = (math.log(1e-2), math.log(1e2))


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Convert decision scores to probabilities, softened or sharpened by the temperature."""
    return _scipy_softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=1)


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """Find the temperature minimising NLL, the one-parameter calibration that keeps the ranking."""
    scores = np.asarray(scores, dtype=np.float64)
    y_index = np.asarray(y_index, dtype=np.intp)
    rows = np.arange(len(y_index))

    def nll(log_t: float) -> float:
        return float(-log_softmax(scores / math.exp(log_t), axis=1)[rows, y_index].mean())

    result = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded")
    return math.exp(float(result.x))


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> float:
    """Measure the top-label gap between confidence and accuracy (equal-width bins)."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidences.size == 0:
        return 0.0
    bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=correct, minlength=n_bins)
        - np.bincount(bins, weights=confidences, minlength=n_bins)
    )
    return float(gap.sum() / counts.sum())
