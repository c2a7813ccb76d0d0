"""The Wilson interval against published values."""

from __future__ import annotations

import pytest

from classifier import wilson_interval


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
