"""Run texts through the active model and the decision rule: auto, audit or review."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.services.models import LoadedModel
from bot.services.policy import OpenTopic
from classifier import Decision, decide
from classifier.novelty import closer_to_other
from classifier.topics import matching_topic


@dataclass(frozen=True)
class Classification:
    """The model's answer for one text and what the service will do with it.

    ``novel``: unlike anything the model learned (its detector said so, the ticket is like
    an open new topic, ``topic_id``, or at least as close to a ticket people answered "none
    of these" as to any labelled one), so it goes to people whatever its confidence.
    """

    label: str | None
    confidence: float | None
    decision: Decision
    model_version: int | None
    suggestions: tuple[tuple[str, float], ...] = ()
    novelty: float | None = None
    novel: bool = False
    topic_id: int | None = None


def classify_texts(
    texts: Sequence[str],
    *,
    model: LoadedModel | None,
    audit_rate: float,
    rng: random.Random,
    topics: Sequence[OpenTopic] = (),
    unlabelled: np.ndarray | None = None,
    suggestions: int = 3,
) -> list[Classification]:
    """Classify in one batch (one `nlp.pipe` pass); with no model everything goes to review.

    ``unlabelled``: unit embeddings of "none of these" tickets the model may not have
    learned as such yet (``Policy.unlabelled``).
    """
    if model is None:
        return [Classification(None, None, Decision.REVIEW, None) for _ in texts]
    if not texts:
        return []
    assessed = model.model.assess(list(texts))
    inside = matching_topic(
        assessed.embeddings,
        np.array([topic.centroid for topic in topics]),
        np.array([topic.radius for topic in topics]),
    )
    like_unlabelled = closer_to_other(
        assessed.embeddings,
        assessed.nearest,
        np.zeros((0, 0)) if unlabelled is None else unlabelled,
    )
    classes = model.model.classes_
    results = []
    for row, novelty, flagged, topic in zip(
        assessed.proba, assessed.novelty, assessed.novel | like_unlabelled, inside, strict=True
    ):
        order = row.argsort()[::-1][:suggestions]
        top = tuple((str(classes[i]), float(row[i])) for i in order)
        label, confidence = top[0]
        topic_id = None if topic < 0 else topics[int(topic)].topic_id
        novel = bool(flagged) or topic_id is not None
        decision = decide(
            label,
            confidence,
            model.thresholds,
            audit_rate=audit_rate,
            draw=rng.random(),
            novel=novel,
        )
        results.append(
            Classification(
                label,
                confidence,
                decision,
                model.version_id,
                top,
                novelty=float(novelty),
                novel=novel,
                topic_id=topic_id,
            )
        )
    return results
