from __future__ import annotations

import json
import math

import numpy as np
import pytest

from classifier.errors import ClassifierError
from classifier.thresholds import (
    LOWERING_LOOKS,
    NEVER,
    Thresholds,
    choose_thresholds,
    corrected_precision,
    fixed_sequence_threshold,
    guaranteed_threshold,
    precision_lower_bound,
)


def test_lower_bound_matches_closed_form_for_all_correct() -> None:
    # with k = n, the one-sided Clopper-Pearson lower bound is delta ** (1 / n)
    assert precision_lower_bound(100, 100, 0.05) == pytest.approx(0.05 ** (1 / 100))
    assert precision_lower_bound(0, 10, 0.05) == 0.0


def test_all_correct_large_sample_admits_everything() -> None:
    confidences = np.linspace(0.3, 1.0, 2000)
    correct = np.ones(2000, dtype=bool)
    threshold = guaranteed_threshold(confidences, correct, target_precision=0.99, delta=0.05)
    assert threshold == pytest.approx(0.3)


def test_too_small_sample_gives_no_threshold() -> None:
    confidences = np.linspace(0.9, 1.0, 20)
    correct = np.ones(20, dtype=bool)
    assert guaranteed_threshold(confidences, correct, target_precision=0.99, delta=0.05) > 1.0


def test_threshold_excludes_the_error_prone_low_confidence_region() -> None:
    rng = np.random.default_rng(1)
    high = rng.uniform(0.8, 1.0, 3000)
    low = rng.uniform(0.0, 0.8, 3000)
    confidences = np.concatenate([high, low])
    correct = np.concatenate([np.ones(3000, dtype=bool), rng.random(3000) < 0.5])
    threshold = guaranteed_threshold(confidences, correct, target_precision=0.98, delta=0.05)
    assert 0.7 < threshold <= 0.8
    covered = confidences >= threshold
    assert correct[covered].mean() >= 0.98


def test_fixed_sequence_uses_the_full_delta_unlike_sgr() -> None:
    # 2 errors in 5,000: the bound passes at delta = 0.05 but not at SGR's 0.05 / 13
    confidences = np.linspace(0.5, 1.0, 5000)
    correct = np.ones(5000, dtype=bool)
    correct[[10, 20]] = False
    assert (
        precision_lower_bound(4998, 5000, 0.05)
        >= 0.9985
        > precision_lower_bound(4998, 5000, 0.05 / 13)
    )
    assert guaranteed_threshold(confidences, correct, target_precision=0.9985, delta=0.05) > 0.5
    assert fixed_sequence_threshold(
        confidences, correct, target_precision=0.9985, delta=0.05
    ) == pytest.approx(0.5)


def test_fixed_sequence_stops_at_the_first_failing_threshold() -> None:
    rng = np.random.default_rng(3)
    confidences = rng.uniform(0.0, 1.0, 4000)
    correct = rng.random(4000) < 0.9 + 0.1 * confidences  # precision falls with confidence
    threshold = fixed_sequence_threshold(confidences, correct, target_precision=0.97, delta=0.05)
    covered = confidences >= threshold
    assert precision_lower_bound(int(correct[covered].sum()), int(covered.sum()), 0.05) >= 0.97
    wider = confidences >= confidences[confidences < threshold].max()
    assert precision_lower_bound(int(correct[wider].sum()), int(wider.sum()), 0.05) < 0.97


def test_fixed_sequence_survives_a_confident_mistake_at_the_top() -> None:
    # one error among the 300 most confident would fail a first test there; the sequence
    # starts at the most confident tenth (1,000 predictions) instead
    confidences = np.linspace(0.5, 1.0, 10_000)
    correct = np.ones(10_000, dtype=bool)
    correct[-1] = False
    threshold = fixed_sequence_threshold(confidences, correct, target_precision=0.99, delta=0.05)
    assert threshold == pytest.approx(0.5)
    assert (
        fixed_sequence_threshold(confidences[:20], correct[:20], target_precision=0.99, delta=0.05)
        > 1.0
    )  # too few predictions for any bound to pass


def _two_label_data() -> tuple[np.ndarray, list[str], list[str]]:
    """'good' predictions are always right, 'bad' ones wrong half the time."""
    rng = np.random.default_rng(2)
    n = 2000
    confidences = rng.uniform(0.5, 1.0, 2 * n)
    predicted = ["good"] * n + ["bad"] * n
    gold = ["good"] * n + ["bad" if i % 2 else "good" for i in range(n)]
    return confidences, predicted, gold


def test_per_label_override_raises_a_bad_label_only() -> None:
    confidences, predicted, gold = _two_label_data()
    pooled = choose_thresholds(confidences, predicted, gold, target_precision=0.7, per_label=False)
    split = choose_thresholds(
        confidences, predicted, gold, target_precision=0.7, per_label=True, min_label_support=100
    )
    assert pooled.per_label == {}
    assert split.default == pooled.default
    assert set(split.per_label) == {"bad"}
    assert split.for_label("bad") > 1.0
    assert split.for_label("good") == split.default


def test_labels_with_few_examples_are_never_auto() -> None:
    confidences = np.full(3000, 0.99)
    predicted = ["a"] * 3000
    gold = ["a"] * 3000
    thresholds = choose_thresholds(
        confidences,
        predicted,
        gold,
        target_precision=0.9,
        label_counts={"a": 3000, "rare": 3},
        min_examples=5,
    )
    assert thresholds.never_auto == frozenset({"rare"})
    assert thresholds.for_label("rare") == math.inf
    assert thresholds.for_label("a") == pytest.approx(0.99)


def test_a_retraining_lowers_the_threshold_in_force_only_on_stricter_evidence() -> None:
    rng = np.random.default_rng(4)
    confidences = rng.uniform(0.0, 1.0, 4000)
    correct = rng.random(4000) < 0.6 + 0.4 * confidences
    predicted = np.where(correct, "a", "b")
    gold = ["a"] * 4000
    usual, stricter = (
        guaranteed_threshold(confidences, correct, target_precision=0.93, delta=delta)
        for delta in (0.05, 0.05 / LOWERING_LOOKS)
    )
    assert usual < stricter < 1.0

    def chosen(standing: float | None) -> float:
        return choose_thresholds(
            confidences, predicted, gold, target_precision=0.93, standing=standing
        ).default

    assert chosen(None) == usual  # a training on its own
    assert chosen(NEVER) == stricter  # the first threshold of a loop that automated nothing
    between = (usual + stricter) / 2
    assert chosen(between) == between  # lowered no further than the stricter bound
    assert chosen(usual - 0.1) == usual  # raised at once


def test_invalid_target_is_rejected() -> None:
    with pytest.raises(ClassifierError):
        choose_thresholds(np.ones(3), ["a"] * 3, ["a"] * 3, target_precision=1.0)


def test_thresholds_json_round_trip_with_infinity() -> None:
    thresholds = Thresholds(
        default=math.inf, per_label={"a": 0.8, "b": math.inf}, never_auto=frozenset({"c"})
    )
    data = json.loads(json.dumps(thresholds.to_dict(), allow_nan=False))
    assert data["default"] is None
    assert Thresholds.from_dict(data) == thresholds


def test_with_default_and_with_label_return_new_objects() -> None:
    base = Thresholds(default=0.9)
    changed = base.with_default(0.8).with_label("card_arrival", 0.95)
    assert base.default == 0.9 and dict(base.per_label) == {}
    assert changed.for_label("card_arrival") == 0.95
    assert changed.for_label("other") == 0.8
    assert changed.with_label("card_arrival", None).for_label("card_arrival") == 0.8


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_out_of_range_threshold_is_refused(bad: float) -> None:
    with pytest.raises(ClassifierError):
        Thresholds(default=0.5).with_label("a", bad)


def test_a_bound_corrected_for_label_error_passes_a_model_noisy_labels_would_fail() -> None:
    # True precision 0.975 above the bar; 5% of the labels it is measured against are
    # wrong (confusably: a wrong label often equals the model's wrong guess).
    rng = np.random.default_rng(0)
    n = 20_000
    confidences = rng.uniform(0.0, 1.0, size=n)
    truly_right = rng.random(n) < np.where(confidences > 0.5, 0.975, 0.6)
    label_wrong = rng.random(n) < 0.05
    # A wrong label on a wrong prediction equals that prediction half the time.
    agrees_by_mistake = ~truly_right & label_wrong & (rng.random(n) < 0.5)
    measured = np.where(label_wrong, agrees_by_mistake, truly_right)
    above = confidences > 0.5
    assert measured[above].mean() < 0.95 < truly_right[above].mean()

    noisy = guaranteed_threshold(confidences, measured, target_precision=0.95, delta=0.05)
    corrected = guaranteed_threshold(
        confidences, measured, target_precision=0.95, delta=0.05, label_error=0.05
    )
    assert noisy == NEVER or noisy > 0.9
    assert corrected < 0.7
    assert truly_right[confidences >= corrected].mean() >= 0.95


def test_corrected_precision_takes_the_cautious_end() -> None:
    assert corrected_precision(0.9, 0.0) == 0.9
    assert corrected_precision(0.9, 0.05) == pytest.approx(min(0.9 / 0.95, 0.85 / 0.9))
    assert corrected_precision(0.99, 0.05) == 1.0
    with pytest.raises(ClassifierError):
        corrected_precision(0.9, 0.5)


def test_per_example_label_error_corrects_only_where_labels_may_be_wrong() -> None:
    # The same noisy measurements; the labels above 0.5 are said to be confirmed (error 0):
    # then nothing excuses the measured shortfall there, and the bound stays uncorrected.
    rng = np.random.default_rng(1)
    n = 20_000
    confidences = rng.uniform(0.0, 1.0, size=n)
    truly_right = rng.random(n) < np.where(confidences > 0.5, 0.975, 0.6)
    measured = np.where(rng.random(n) < 0.05, False, truly_right)
    single = np.full(n, 0.05)
    confirmed_on_top = np.where(confidences > 0.5, 0.0, 0.05)

    corrected = guaranteed_threshold(
        confidences, measured, target_precision=0.95, delta=0.05, label_error=single
    )
    uncorrected = guaranteed_threshold(
        confidences, measured, target_precision=0.95, delta=0.05, label_error=confirmed_on_top
    )
    plain = guaranteed_threshold(confidences, measured, target_precision=0.95, delta=0.05)
    assert corrected < 0.7
    assert uncorrected == plain
    assert truly_right[confidences >= corrected].mean() >= 0.95
