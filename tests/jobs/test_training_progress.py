"""Training reports progress from inside every fit, so a worker told to stop is never more
than one sub-step (or one label of the SGD solve, about a second) from a point where it can."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from classifier.embeddings import embed
from classifier.model import SGD_EPOCHS, TicketClassifier, reporting_fit_progress
from jobs.retraining import run_retraining
from tests.conftest import SAMPLE_TRAIN
from tests.jobs.conftest import Clock
from tests.jobs.helpers import active_id, import_history

SUB_STEPS = [
    ("fit: normalising", 0, 1),
    ("fit: vectorising", 0, 4),
    ("fit: vectorising", 1, 4),
    ("fit: vectorising", 2, 4),
    ("fit: vectorising", 3, 4),
    ("fit: embeddings", 0, 1),
]


class Stop(Exception):
    """Raised by a progress callback, as the worker's heartbeat raises Cancelled."""


@pytest.fixture(scope="module")
def examples() -> tuple[list[str], list[str]]:
    with SAMPLE_TRAIN.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:800]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def test_fit_reports_each_sub_step_and_every_label_of_the_sgd_solve(
    examples: tuple[list[str], list[str]],
) -> None:
    texts, labels = examples
    seen: list[tuple[str, int, int]] = []
    with reporting_fit_progress(lambda *step: seen.append(step)):
        TicketClassifier(solver="sgd", temperature=1.0).fit(texts, labels)
    n_labels = len(set(labels))
    assert seen == SUB_STEPS + [("fit: solver", done, n_labels) for done in range(n_labels + 1)]

    seen.clear()
    with reporting_fit_progress(lambda *step: seen.append(step)):
        TicketClassifier(solver="exact", temperature=1.0).fit(texts[:200], labels[:200])
    assert seen == [*SUB_STEPS, ("fit: solver", 0, 1)]
    seen.clear()
    TicketClassifier(solver="exact", temperature=1.0).fit(texts[:200], labels[:200])
    assert seen == []  # outside the block nobody is told


@pytest.mark.parametrize("n_labels", [2, 77])
def test_the_sgd_solve_is_sklearns_one_vs_rest_sgd_exactly(
    examples: tuple[list[str], list[str]], n_labels: int
) -> None:
    """Solving label by label (to report between them) changes no coefficient."""
    kept = sorted(set(examples[1]))[:n_labels]
    pairs = [(t, y) for t, y in zip(*examples, strict=True) if y in kept]
    texts, labels = [t for t, _ in pairs], [y for _, y in pairs]
    model = TicketClassifier(solver="sgd", temperature=1.0).fit(texts, labels)
    features = model._features(texts, embed(texts))
    whole = SGDClassifier(
        loss="hinge",
        alpha=1.0 / (model.C * len(texts)),
        average=True,
        max_iter=SGD_EPOCHS,
        tol=None,
        n_jobs=2,
        random_state=model.random_state,
    ).fit(features, np.unique(labels, return_inverse=True)[1])
    np.testing.assert_array_equal(model.coef_, whole.coef_.T.astype(np.float32))  # as stored
    np.testing.assert_array_equal(model.intercept_, whole.intercept_)
    assert np.mean(model.predict(texts) == np.asarray(labels)) > 0.9


def test_a_callback_that_raises_stops_the_sgd_solve_between_two_labels(
    examples: tuple[list[str], list[str]],
) -> None:
    texts, labels = examples
    seen: list[tuple[str, int, int]] = []

    def stop_after_ten_labels(stage: str, step: int, total: int) -> None:
        seen.append((stage, step, total))
        if stage == "fit: solver" and step == 10:
            raise Stop

    model = TicketClassifier(solver="sgd", temperature=1.0)
    with pytest.raises(Stop), reporting_fit_progress(stop_after_ten_labels):
        model.fit(texts, labels)
    assert seen[-1] == ("fit: solver", 10, len(set(labels)))
    assert not hasattr(model, "coef_")  # the solve never finished


def test_the_retraining_job_stops_inside_a_fit(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    import_history(factory, clock)
    calls = itertools.count()
    # Progress points in order: "cross-validation 0/5", then the first fold's own sub-steps.
    abandoned = run_retraining(
        factory, settings=job_settings, now=clock, should_stop=lambda: next(calls) == 3
    )
    assert abandoned is not None and abandoned.status == "abandoned"
    assert abandoned.error is not None and "'fit: vectorising 1/4'" in abandoned.error
    assert active_id(factory) is None
