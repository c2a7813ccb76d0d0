from __future__ import annotations

import functools

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from classifier.errors import ModelIntegrityError
from classifier.persistence import TRUSTED_TYPES, dump_model, load_model, sha256_hex
from classifier.training import TrainedModel


def test_round_trip_predicts_identical_probabilities(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    texts = sample_holdout[0][:50]
    data = dump_model(trained.model)
    loaded = load_model(data, sha256=sha256_hex(data))
    np.testing.assert_array_equal(loaded.predict_proba(texts), trained.model.predict_proba(texts))
    assert list(loaded.classes_) == list(trained.model.classes_)


def test_the_same_bytes_are_parsed_once_and_still_checked(trained: TrainedModel) -> None:
    data = dump_model(trained.model)
    first = load_model(data, sha256=sha256_hex(data))
    assert load_model(data, sha256=sha256_hex(data)) is first
    assert first is not trained.model
    with pytest.raises(ModelIntegrityError, match="checksum"):
        load_model(data, sha256=sha256_hex(data + b"x"))


def test_trusted_types_are_complete_and_minimal(trained: TrainedModel) -> None:
    data = dump_model(trained.model)
    assert sorted(skops.io.get_untrusted_types(data=data)) == sorted(TRUSTED_TYPES)


def test_checksum_mismatch_is_refused(trained: TrainedModel) -> None:
    data = dump_model(trained.model)
    with pytest.raises(ModelIntegrityError, match="checksum"):
        load_model(data, sha256=sha256_hex(data + b"x"))


def test_artifact_with_unexpected_type_is_refused(trained: TrainedModel) -> None:
    model = trained.model
    rogue = type(model)(pipeline=model.pipeline, temperature=model.temperature_)
    rogue.__dict__.update(model.__dict__)
    rogue.callback_ = functools.partial(print, "pwned")
    data = skops.io.dumps(rogue)
    with pytest.raises(ModelIntegrityError, match="functools.partial"):
        load_model(data, sha256=sha256_hex(data))


def test_other_estimator_is_refused() -> None:
    other = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    data = skops.io.dumps(other)
    with pytest.raises(ModelIntegrityError, match="not a TicketClassifier"):
        load_model(data, sha256=sha256_hex(data))


def test_garbage_bytes_are_refused() -> None:
    data = b"not a zip file"
    with pytest.raises(ModelIntegrityError, match="not a readable"):
        load_model(data, sha256=sha256_hex(data))
