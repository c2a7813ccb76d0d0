from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from classifier.errors import ClassifierError
from classifier.model import TicketClassifier, resolve_solver
from classifier.persistence import dump_model, load_model, sha256_hex
from classifier.training import TrainedModel

TINY_TEXTS = [
    "my card has not arrived",
    "where is my new card",
    "card still not delivered",
    "I forgot my pin",
    "how do I reset my pin",
    "pin blocked after three tries",
]
TINY_LABELS = ["card_arrival"] * 3 + ["pin"] * 3


def test_fit_returns_self_and_sets_learned_attributes() -> None:
    model = TicketClassifier(temperature=1.0)
    assert model.fit(TINY_TEXTS, TINY_LABELS) is model
    assert list(model.classes_) == ["card_arrival", "pin"]
    assert model.temperature_ == 1.0


def test_fitting_twice_on_the_same_tickets_gives_the_same_model(
    sample_train: tuple[list[str], list[str]],
) -> None:
    texts, labels = (part[:600] for part in sample_train)
    first, second = (TicketClassifier(temperature=1.0).fit(texts, labels) for _ in range(2))
    assert np.array_equal(first.decision_function(texts), second.decision_function(texts))


def test_predict_before_fit_raises_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        TicketClassifier().predict_proba(["hello"])


def test_binary_model_gives_two_column_probabilities() -> None:
    model = TicketClassifier(temperature=1.0).fit(TINY_TEXTS, TINY_LABELS)
    proba = model.predict_proba(["my pin does not work", "card not here yet"])
    assert proba.shape == (2, 2)
    assert list(model.predict(["my pin does not work", "card not here yet"])) == [
        "pin",
        "card_arrival",
    ]


def test_fit_without_temperature_calibrates_by_cross_validation() -> None:
    model = TicketClassifier(calibration_folds=3).fit(TINY_TEXTS * 2, TINY_LABELS * 2)
    assert model.temperature_ > 0
    assert model.temperature_ != 1.0


def test_constructor_params_round_trip() -> None:
    model = TicketClassifier(pipeline="blank", C=0.3)
    assert model.get_params()["pipeline"] == "blank"
    assert model.get_params()["C"] == 0.3


def test_single_label_is_rejected() -> None:
    with pytest.raises(ClassifierError, match="at least 2"):
        TicketClassifier().fit(["a", "b"], ["x", "x"])


def test_probabilities_sum_to_one_and_match_predict(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    texts, _ = sample_holdout
    model = trained.model
    proba = model.predict_proba(texts)
    assert proba.shape == (len(texts), 77)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(texts))


def test_masked_and_unmasked_variants_get_the_same_prediction(trained: TrainedModel) -> None:
    model = trained.model
    a = model.predict_proba(["my card 4111 1111 1111 1111 was declined"])
    b = model.predict_proba(["my card 5500 0000 0000 0004 was declined"])
    np.testing.assert_allclose(a, b)


def test_large_data_solver_learns_and_saves_like_the_exact_one(
    sample_train: tuple[list[str], list[str]],
) -> None:
    """The SGD path (used above 20,000 tickets) forced on the sample: same contract."""
    texts, labels = sample_train
    model = TicketClassifier(solver="sgd", temperature=1.0).fit(texts, labels)
    proba = model.predict_proba(texts[:50])
    assert proba.shape == (50, 77) and np.allclose(proba.sum(axis=1), 1)
    assert np.mean(model.predict(texts) == np.asarray(labels)) > 0.9  # learnt the data
    artifact = dump_model(model)
    restored = load_model(artifact, sha256=sha256_hex(artifact))
    assert np.allclose(restored.predict_proba(texts[:50]), proba)
    assert [resolve_solver("auto", n) for n in (20_000, 20_001)] == ["exact", "sgd"]


def test_texts_sharing_no_word_still_train() -> None:
    """Word n-grams need two texts each, except when no n-gram repeats at all."""
    model = TicketClassifier(temperature=1.0).fit(["hello there", "refund now"], ["a", "b"])
    assert list(model.predict(["refund now please"])) == ["b"]
