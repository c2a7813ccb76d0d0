"""Shared fixtures: the Banking77 sample shipped in bot/sample, and one trained model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from classifier.training import TrainedModel, train

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "bot" / "sample"


def _read(name: str) -> tuple[list[str], list[str]]:
    with (SAMPLE_DIR / name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


@pytest.fixture(scope="session")
def sample_train() -> tuple[list[str], list[str]]:
    """Return the 1,848-row sample training set (texts, labels)."""
    return _read("banking77_sample_train.csv")


@pytest.fixture(scope="session")
def sample_holdout() -> tuple[list[str], list[str]]:
    """Return the 308-row sample holdout set (texts, labels)."""
    return _read("banking77_sample_holdout.csv")


@pytest.fixture(scope="session")
def trained(sample_train: tuple[list[str], list[str]]) -> TrainedModel:
    """Train once per session on the sample; most model tests share it."""
    texts, labels = sample_train
    return train(texts, labels, target_precision=0.9, folds=3)
