from __future__ import annotations

import numpy as np
import pytest

from classifier.calibration import expected_calibration_error, fit_temperature, softmax


def test_softmax_rows_sum_to_one_and_temperature_flattens() -> None:
    scores = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    sharp = softmax(scores, 0.5)
    flat = softmax(scores, 4.0)
    np.testing.assert_allclose(sharp.sum(axis=1), 1.0)
    assert sharp[0, 0] > softmax(scores, 1.0)[0, 0] > flat[0, 0]
    np.testing.assert_allclose(flat[1], [1 / 3] * 3)


def test_fit_temperature_recovers_the_generating_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 5))
    true_t = 2.5
    proba = softmax(logits, true_t)
    y = np.array([rng.choice(5, p=row) for row in proba])
    assert fit_temperature(logits, y) == pytest.approx(true_t, rel=0.1)


def test_ece_hand_computed() -> None:
    # bin (0.6, 0.667]: conf 0.65 x2, one correct -> |0.5 - 0.65| * 2/4
    # bin (0.933, 1.0]: conf 0.95 x2, both correct -> |1.0 - 0.95| * 2/4
    confidences = np.array([0.65, 0.65, 0.95, 0.95])
    correct = np.array([True, False, True, True])
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.075 + 0.025)


def test_ece_zero_when_perfectly_calibrated_within_bins() -> None:
    confidences = np.full(10, 0.8)
    correct = np.array([True] * 8 + [False] * 2)
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0)
