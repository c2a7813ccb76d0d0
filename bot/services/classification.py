"""Run texts through the active model and the decision rule: auto, audit or review."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.models import LoadedModel
from classifier import Decision, decide


@dataclass(frozen=True)
class Classification:
    """The model's answer for one text and what the service will do with it."""

    label: str | None
    confidence: float | None
    decision: Decision
    model_version: int | None
    suggestions: tuple[tuple[str, float], ...] = ()


def classify_texts(
    texts: Sequence[str],
    *,
    model: LoadedModel | None,
    audit_rate: float,
    rng: random.Random,
    suggestions: int = 3,
) -> list[Classification]:
    """Classify in one batch (one `nlp.pipe` pass); with no model everything goes to review."""
    if model is None:
        return [Classification(None, None, Decision.REVIEW, None) for _ in texts]
    if not texts:
        return []
    probabilities = model.model.predict_proba(list(texts))
    classes = model.model.classes_
    results = []
    for row in probabilities:
        order = row.argsort()[::-1][:suggestions]
        top = tuple((str(classes[i]), float(row[i])) for i in order)
        label, confidence = top[0]
        decision = decide(
            label, confidence, model.thresholds, audit_rate=audit_rate, draw=rng.random()
        )
        results.append(Classification(label, confidence, decision, model.version_id, top))
    return results
