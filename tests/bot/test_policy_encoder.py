"""Topics and "none of these" tickets are embedded with the configured sentence encoder;
intake applies them only to a model trained with the same one (other spaces do not compare,
and a different dimension would be a traceback)."""

from __future__ import annotations

import csv
import random

import numpy as np

from bot.services.intake import classify_under_policy
from bot.services.models import LoadedModel
from bot.services.policy import Policy
from classifier import TrainedModel
from tests.conftest import SAMPLE_TRAIN


def known_text() -> str:
    with SAMPLE_TRAIN.open(newline="") as handle:
        return next(csv.DictReader(handle))["text"]


def novel_under(trained: TrainedModel, policy: Policy, text: str) -> bool:
    model = LoadedModel(1, trained.model, trained.thresholds)
    [(result, _)] = classify_under_policy([text], model=model, policy=policy, rng=random.Random(0))
    return result.novel


def test_unlabelled_tickets_apply_only_in_the_models_own_space(trained: TrainedModel) -> None:
    text = known_text()
    itself = trained.model.embed([text]).astype(np.float32)  # "none of these" on this very text
    assert not novel_under(trained, Policy(), text)
    assert novel_under(trained, Policy(unlabelled=itself, encoder=None), text)
    other_space = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    assert not novel_under(trained, Policy(unlabelled=other_space, encoder="/elsewhere"), text)
