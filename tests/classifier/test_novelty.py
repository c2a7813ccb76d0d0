"""Novelty detection: calibrated on held-out known tickets, learned from left-out labels."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp

from classifier.crossval import fold_assignment
from classifier.decision import Decision, decide
from classifier.novelty import (
    FEATURES,
    Bank,
    NoveltyDetector,
    _fit_combination,
    _Round,
    closer_to_other,
    conformal_cutoff,
    fit_novelty_detector,
    logsumexp_rows,
    novelty_features,
)
from classifier.persistence import dump_model, load_model, sha256_hex
from classifier.thresholds import Thresholds, choose_thresholds
from classifier.training import FALSE_ALARM_RATE, TrainedModel, refit

OFF_TOPIC = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "off_topic.csv"
DIM = 16


class NearestCentroid:
    """A fold model on synthetic points: scores are minus the distance to each centroid.

    Texts are keys into ``POINTS``, so the detector sees the same point as "embedding" and
    as what the model scored, as with the real classifier's WordLlama features.
    """

    points: dict[str, np.ndarray] = {}

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> NearestCentroid:
        self.classes_ = np.unique(np.asarray(labels))
        x = np.stack([self.points[t] for t in texts])
        y = np.asarray(labels)
        self.centroids_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        x = np.stack([self.points[t] for t in texts])
        return -4.0 * np.linalg.norm(x[:, None, :] - self.centroids_[None], axis=2)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clusters(rng: np.random.Generator, centres: np.ndarray, per: int) -> np.ndarray:
    return unit(np.repeat(centres, per, axis=0) + 0.15 * rng.normal(size=(len(centres) * per, DIM)))


@pytest.fixture(scope="module")
def synthetic() -> dict[str, object]:
    """Eight known clusters on the sphere, and a far cluster no label covers."""
    rng = np.random.default_rng(3)
    centres = unit(rng.normal(size=(9, DIM)))
    known = clusters(rng, centres[:8], 60)
    labels = np.repeat([f"label{i}" for i in range(8)], 60)
    far = clusters(rng, centres[8:], 60)
    fresh = clusters(rng, centres[:8], 20)
    texts = [f"known{i}" for i in range(len(known))]
    NearestCentroid.points = {
        **dict(zip(texts, known, strict=True)),
        **{f"far{i}": p for i, p in enumerate(far)},
        **{f"fresh{i}": p for i, p in enumerate(fresh)},
    }
    classes, y_index = np.unique(labels, return_inverse=True)
    folds, used = fold_assignment(y_index, 5, 0)
    scores = np.zeros((len(texts), len(classes)))
    for fold in range(used):
        held = folds == fold
        model = NearestCentroid().fit(
            [t for t, h in zip(texts, held, strict=True) if not h], list(labels[~held])
        )
        scores[held] = model.decision_function([t for t, h in zip(texts, held, strict=True) if h])
    fitted = fit_novelty_detector(
        texts=texts,
        y_index=y_index,
        classes=classes,
        held_out_scores=scores,
        folds=folds,
        temperature=1.0,
        embeddings=known,
        fit_fold_model=lambda t, y: NearestCentroid().fit(t, y),
        false_alarm_rate=0.05,
    )
    assert fitted is not None
    final = NearestCentroid().fit(texts, list(labels))
    return {"fitted": fitted, "final": final, "far": far, "fresh": fresh}


def test_a_far_cluster_is_flagged_and_known_tickets_mostly_not(
    synthetic: dict[str, object],
) -> None:
    fitted, final = synthetic["fitted"], synthetic["final"]
    detector = fitted.detector  # type: ignore[attr-defined]
    for name, share in (("far", (0.95, 1.0)), ("fresh", (0.0, 0.12))):
        points = synthetic[name]
        texts = [f"{name}{i}" for i in range(len(points))]  # type: ignore[arg-type]
        scores = final.decision_function(texts)  # type: ignore[attr-defined]
        _, novel = detector.score(scores, points, temperature=1.0)
        low, high = share
        assert low <= novel.mean() <= high, name


def test_the_false_alarm_rate_is_what_was_asked_on_held_out_known_tickets(
    synthetic: dict[str, object],
) -> None:
    fitted = synthetic["fitted"]
    assert fitted.held_out_novel.mean() == pytest.approx(0.05, abs=0.01)  # type: ignore[attr-defined]
    report = fitted.detector.report()  # type: ignore[attr-defined]
    assert report["false_alarm_target"] == 0.05
    assert report["recall_held_out_labels"] > 0.9  # left-out clusters are well separated here


def test_conformal_cutoff_bounds_the_share_above_it() -> None:
    scores = np.random.default_rng(0).uniform(size=999)
    cutoff = conformal_cutoff(scores, 0.1)
    assert (scores > cutoff).mean() <= 0.1
    assert (scores > cutoff).mean() >= 0.09
    assert conformal_cutoff(scores[:5], 0.1) == np.inf  # too few to justify any cutoff


def test_bank_similarities_by_class_and_to_other_answers() -> None:
    e = np.eye(4)
    bank = Bank.build(e[[0, 1, 2]], np.array([1, 0, 1]), 3, other=e[[3]])
    per_class, other = bank.similarities(np.array([[0.0, 0.0, 1.0, 0.0], [0, 0, 0, 1.0]]))
    assert per_class.tolist() == [[0.0, 1.0, -1.0], [0.0, 0.0, -1.0]]  # class 2 has no rows
    assert other.tolist() == [0.0, 1.0]


def test_a_ticket_closest_to_a_none_of_these_answer_is_novel(
    synthetic: dict[str, object],
) -> None:
    detector, final = synthetic["fitted"].detector, synthetic["final"]  # type: ignore[attr-defined]
    fresh = synthetic["fresh"]
    bank = Bank(detector.bank_embeddings_, detector.bank_starts_, np.asarray(fresh[:1]))  # type: ignore[index]
    scores = final.decision_function(["fresh0"])  # type: ignore[attr-defined]
    _, before = detector.score(scores, fresh[:1], temperature=1.0)  # type: ignore[index]
    _, after = detector.with_bank(bank).score(scores, fresh[:1], temperature=1.0)  # type: ignore[index]
    assert not before[0] and after[0]


def test_a_later_none_of_these_answer_counts_as_the_detector_own_would(
    synthetic: dict[str, object],
) -> None:
    detector, final = synthetic["fitted"].detector, synthetic["final"]  # type: ignore[attr-defined]
    fresh = np.asarray(synthetic["fresh"])
    scores = final.decision_function(["fresh0", "fresh1"])  # type: ignore[attr-defined]
    _, novel, nearest = detector.score_with_nearest(scores, fresh[:2], temperature=1.0)
    per_class, _ = Bank(detector.bank_embeddings_, detector.bank_starts_, fresh[:0]).similarities(
        fresh[:2]
    )
    assert nearest.tolist() == per_class.max(axis=1).tolist()
    assert not novel[0]
    # Answered "none of these" after training: the same verdict as once it is in the bank.
    assert closer_to_other(fresh[:1], nearest[:1], fresh[:1]).tolist() == [True]
    bank = Bank(detector.bank_embeddings_, detector.bank_starts_, fresh[:1])
    _, learned = detector.with_bank(bank).score(scores[:1], fresh[:1], temperature=1.0)
    assert learned.tolist() == [True]


def test_closer_to_other_compares_with_the_nearest_labelled_ticket() -> None:
    e = np.eye(3)
    queries = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    nearest = np.array([0.5, 0.9])  # the second ticket has a labelled neighbour at 0.9
    assert closer_to_other(queries, nearest, e[[0]]).tolist() == [True, False]
    assert closer_to_other(queries, nearest, e[[1]]).tolist() == [False, False]
    assert closer_to_other(queries, nearest, np.zeros((0, 0))).tolist() == [False, False]


def test_the_floor_holds_even_when_the_bound_would_automate_everything() -> None:
    confidences = np.linspace(0.3, 1.0, 500)
    everything_right = ["a"] * 500
    tuned = choose_thresholds(
        confidences, everything_right, everything_right, target_precision=0.9, floor=0.7
    )
    assert tuned.default <= 0.35  # every held-out prediction was right: the bound allows all
    assert tuned.for_label("a") == 0.7
    assert decide("a", 0.69, tuned, audit_rate=0.0, draw=0.5) is Decision.REVIEW
    assert decide("a", 0.71, tuned, audit_rate=0.0, draw=0.5) is Decision.AUTO
    assert Thresholds.from_dict(tuned.to_dict()) == tuned


def test_novel_goes_to_review_whatever_the_confidence() -> None:
    lenient = Thresholds(default=0.1)
    assert decide("a", 0.99, lenient, audit_rate=0.0, draw=0.5, novel=True) is Decision.REVIEW


def read_off_topic() -> list[str]:
    with OFF_TOPIC.open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def test_the_trained_model_sends_off_topic_questions_to_people(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    off_topic = trained.model.assess(read_off_topic())
    known = trained.model.assess(sample_holdout[0])
    assert off_topic.novel.mean() >= 0.9
    assert known.novel.mean() <= 0.15
    assert trained.novelty is not None
    assert 0 < trained.novelty["false_alarm_measured"] <= FALSE_ALARM_RATE + 0.01


def test_stored_and_refitted_models_keep_their_detector(
    trained: TrainedModel, sample_train: tuple[list[str], list[str]]
) -> None:
    texts = read_off_topic()[:10]
    data = dump_model(trained.model)
    loaded = load_model(data, sha256=sha256_hex(data))
    np.testing.assert_array_equal(loaded.assess(texts).novelty, trained.model.assess(texts).novelty)
    more = refit(trained.model, *sample_train)
    assert more.novelty_.cutoff_ == trained.model.novelty_.cutoff_
    assert len(more.novelty_.bank_embeddings_) == len(sample_train[0])


def test_novelty_features_of_scores_and_label_similarities() -> None:
    scores = np.array([[2.0, 0.0, 1.0, -1.0, 0.5, 0.0]])
    per_class = np.array([[0.5, 0.9, 0.7, 0.1, 0.2, 0.3]])
    features = dict(zip(FEATURES, novelty_features(scores, 1.0, per_class)[0], strict=True))
    assert len(features) == len(FEATURES)
    assert features["nearest"] == 0.9
    assert features["nearest_same_label"] == 0.5  # label 0 is predicted
    assert features["same_label_lead"] == pytest.approx(0.5 - 0.9)
    assert features["second_label_similarity"] == 0.7
    assert features["top5_label_similarity"] == pytest.approx((0.9 + 0.7 + 0.5 + 0.3 + 0.2) / 5)
    assert features["score_lead"] == 1.0 and features["top_score"] == 2.0


def confident_rounds(rng: np.random.Generator) -> list[_Round]:
    """Rounds where column 1 tells pseudo-novel tickets apart only among unsure ones
    (confidence below 0.5) and column 2 only among confident ones."""
    rounds = []
    for _ in range(3):
        parts = []
        for novel in (False, True):
            x = rng.normal(size=(400, len(FEATURES)))
            x[:, 0] = rng.uniform(0.0, 1.0, size=400)
            unsure = x[:, 0] < 0.5
            x[unsure, 1] += 3.0 * novel
            x[~unsure, 2] += 1.5 * novel
            parts.append(x)
        rounds.append(_Round(*parts))
    return rounds


def test_the_combination_is_learned_where_the_gate_would_automate() -> None:
    rounds = confident_rounds(np.random.default_rng(0))
    everywhere = _fit_combination(rounds, 0.05)
    confident = _fit_combination(rounds, 0.05, automate_from=0.5)
    # Fitted on every ticket, the unsure tickets' strong signal dominates; fitted on the
    # confident ones, the signal that matters there does.
    assert abs(everywhere.coef_[1]) > abs(everywhere.coef_[2])
    assert abs(confident.coef_[2]) > 3 * abs(confident.coef_[1])
    test = confident_rounds(np.random.default_rng(1))[0]

    def caught_at_five_percent(detector: NoveltyDetector) -> float:
        known = test.known[test.known[:, 0] >= 0.5]
        novel = test.novel[test.novel[:, 0] >= 0.5]
        cutoff = conformal_cutoff(detector._combine(known), 0.05)
        return float((detector._combine(novel) > cutoff).mean())

    assert caught_at_five_percent(confident) > caught_at_five_percent(everywhere) + 0.05


def test_too_few_confident_tickets_fit_on_all_of_them() -> None:
    rounds = confident_rounds(np.random.default_rng(0))
    everywhere = _fit_combination(rounds, 0.05)
    beyond_all = _fit_combination(rounds, 0.05, automate_from=1.5)  # no ticket clears it
    np.testing.assert_allclose(beyond_all.coef_, everywhere.coef_)


def test_a_detector_stored_with_the_first_five_features_still_scores() -> None:
    rng = np.random.default_rng(0)
    old = NoveltyDetector()
    old.mean_, old.scale_ = rng.normal(size=5), np.ones(5)
    old.coef_, old.intercept_ = rng.normal(size=5), 0.3
    features = rng.normal(size=(7, len(FEATURES)))
    z = (features[:, :5] - old.mean_) @ old.coef_ + 0.3
    np.testing.assert_allclose(old._combine(features), 1 / (1 + np.exp(-z)))


def test_logsumexp_rows_equals_scipys_to_the_bit() -> None:
    """The energy feature is computed as scipy computes it: tied maxima, one class, big and
    tiny scales, one row and many."""
    rng = np.random.default_rng(7)
    for shape, scale in [((1, 77), 1.0), ((500, 77), 30.0), ((3, 2), 0.01), ((4, 1), 5.0)]:
        a = rng.normal(size=shape) * scale
        a[0, : min(2, shape[1])] = a[0].max() + 1.0  # a tie at the maximum
        assert np.array_equal(logsumexp_rows(a), logsumexp(a, axis=1))
