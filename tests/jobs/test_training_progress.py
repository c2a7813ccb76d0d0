"""Training reports progress from inside every fit, so a worker told to stop is never more
than one sub-step or one SGD epoch away from a point where it can stop."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
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


def test_fit_reports_each_sub_step_and_every_sgd_epoch(
    examples: tuple[list[str], list[str]],
) -> None:
    texts, labels = examples
    seen: list[tuple[str, int, int]] = []
    with reporting_fit_progress(lambda *step: seen.append(step)):
        reported = TicketClassifier(solver="sgd", temperature=1.0).fit(texts, labels)
    epochs = [("fit: solver epoch", epoch, SGD_EPOCHS) for epoch in range(SGD_EPOCHS)]
    assert seen == SUB_STEPS + epochs

    silent = TicketClassifier(solver="sgd", temperature=1.0).fit(texts, labels)
    np.testing.assert_array_equal(reported.coef_, silent.coef_)  # listening changes nothing
    assert np.mean(silent.predict(texts) == np.asarray(labels)) > 0.9

    seen.clear()
    with reporting_fit_progress(lambda *step: seen.append(step)):
        TicketClassifier(solver="exact", temperature=1.0).fit(texts[:200], labels[:200])
    assert seen == [*SUB_STEPS, ("fit: solver", 0, 1)]


def test_a_callback_that_raises_stops_the_fit_between_two_epochs(
    examples: tuple[list[str], list[str]],
) -> None:
    texts, labels = examples
    seen: list[tuple[str, int, int]] = []

    def stop_before_the_third_epoch(stage: str, step: int, total: int) -> None:
        seen.append((stage, step, total))
        if stage == "fit: solver epoch" and step == 2:
            raise Stop

    model = TicketClassifier(solver="sgd", temperature=1.0)
    with pytest.raises(Stop), reporting_fit_progress(stop_before_the_third_epoch):
        model.fit(texts, labels)
    assert seen[-1] == ("fit: solver epoch", 2, SGD_EPOCHS)
    assert not hasattr(model, "coef_")  # the solver never finished


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
