"""The rules in force right now: deployment settings overlaid by what admins changed at run time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.settings import Settings
from classifier import Thresholds
from storage.models import Label
from storage.queries.runtime_settings import runtime_settings
from storage.queries.topics import confused_labels, unlearned_topics

# Keys admins may set at run time (through /triage); values are JSON.
PAUSED = "paused"
AUDIT_RATE = "audit_rate"
QUORUM = "quorum"
TARGET_PRECISION = "target_precision"
THRESHOLD = "threshold"  # overrides the model's global threshold
LABEL_THRESHOLDS = "label_thresholds"  # {label: threshold}
LABEL_RENAMES = "label_renames"  # [[old, new, models_up_to], ...], oldest first
CONFIDENCE_FLOOR = "confidence_floor"  # the least confidence any one ticket needs


EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Rename:
    """`labels rename OLD NEW`, and the newest model version stored when it happened."""

    old: str
    new: str
    models_up_to: int


@dataclass(frozen=True)
class OpenTopic:
    """A new topic still being learned: tickets inside its radius go to people."""

    topic_id: int
    centroid: tuple[float, ...]
    radius: float


@dataclass(frozen=True)
class Policy:
    """How tickets are decided and answers are counted, as admins last set it."""

    paused: bool = False
    audit_rate: float = 0.02
    quorum: int = 1
    target_precision: float = 0.95
    threshold: float | None = None
    label_thresholds: dict[str, float] = field(default_factory=dict)
    renames: tuple[Rename, ...] = ()
    labels: frozenset[str] = frozenset()  # every label name in use now, retired ones included
    retired: frozenset[str] = frozenset()
    confidence_floor: float = 0.0
    topics: tuple[OpenTopic, ...] = ()  # new topics not learned yet: like them, to people
    held: frozenset[str] = frozenset()  # labels those topics are confused with: not automatic
    # People whose estimated accuracy is below the target (written by retraining): each of
    # their answers gets a second opinion (bot.services.second_opinions).
    doubtful: frozenset[str] = frozenset()
    # Per person, their estimated accuracy (written by retraining): a model contradicting
    # them casts doubt only when it is surer than that, and it sets their random share.
    accuracy: Mapping[str, float] = field(default_factory=dict, compare=False)
    # Unit embeddings of the tickets people answered "none of these" (the bank the next
    # retraining keeps as "other") or labelled with a topic's label no model knows yet,
    # filled by the policy cache: a ticket at least as close to one of them as to any
    # ticket the model learned goes to people, before any topic is found and until learned.
    unlabelled: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.float32), compare=False
    )
    # The sentence encoder (TRIAGE_SENTENCE_ENCODER; None: WordLlama) that the topics'
    # centroids and `unlabelled` are in: they apply to a model trained with the same one.
    encoder: str | None = None

    def label_map(self, classes: Iterable[str], version_id: int) -> dict[str, str]:
        """The current name of each class of model `version_id` that a rename has changed.

        A model keeps the names it was trained with until the next retraining. Renames are
        replayed in order on the model's own names. One applies to a model stored before it,
        and to a later one (trained on data read before the rename) unless the old name has
        since been given to a new label; it renames a class only while the model does not
        already have a class of the new name.
        """
        current = {name: name for name in classes}
        for rename in self.renames:
            if version_id > rename.models_up_to and rename.old in self.labels:
                continue
            holders = [name for name, now in current.items() if now == rename.old]
            if holders and rename.new not in current.values():
                current.update(dict.fromkeys(holders, rename.new))
        return {name: now for name, now in current.items() if now != name}

    def thresholds_for(self, tuned: Thresholds, renamed: Mapping[str, str] = EMPTY) -> Thresholds:
        """The model's tuned thresholds with the admins' overrides on top, in the model's names.

        An admin's global threshold replaces the tuned per-label ones ("for all labels");
        labels with too few examples stay never-automatic whatever the override, and so do
        retired labels, and labels held while a new topic confused with them is being learned.
        The confidence floor in force applies to every label. Overrides and
        retirements name labels as they are called now;
        `renamed` (from `label_map`) carries them to the model's older names.
        """

        def model_names(label: str) -> set[str]:
            own = set() if label in renamed else {label}
            return own | {name for name, now in renamed.items() if now == label}

        result = tuned.with_floor(self.confidence_floor)
        if self.threshold is not None:
            result = Thresholds(self.threshold, {}, tuned.never_auto, self.confidence_floor)
        for label, value in self.label_thresholds.items():
            for name in model_names(label):
                result = result.with_label(name, value)
        retired = {name for label in self.retired | self.held for name in model_names(label)}
        return replace(result, never_auto=result.never_auto | retired) if retired else result


def current_policy(*, session: Session, settings: Settings) -> Policy:
    """Read the overrides stored in the database over the deployment's defaults."""
    stored: dict[str, Any] = runtime_settings(session=session)
    names = {name: active for name, active in session.execute(select(Label.name, Label.active))}
    return Policy(
        paused=bool(stored.get(PAUSED, False)),
        audit_rate=float(stored.get(AUDIT_RATE, settings.audit_rate)),
        quorum=int(stored.get(QUORUM, 1)),
        target_precision=float(stored.get(TARGET_PRECISION, settings.target_precision)),
        threshold=None if stored.get(THRESHOLD) is None else float(stored[THRESHOLD]),
        label_thresholds={k: float(v) for k, v in (stored.get(LABEL_THRESHOLDS) or {}).items()},
        renames=tuple(Rename(old, new, upto) for old, new, upto in stored.get(LABEL_RENAMES) or ()),
        labels=frozenset(names),
        retired=frozenset(name for name, active in names.items() if not active),
        confidence_floor=float(stored.get(CONFIDENCE_FLOOR, settings.confidence_floor)),
        topics=tuple(
            OpenTopic(topic.id, tuple(topic.centroid), topic.radius)
            for topic in unlearned_topics(session=session)
        ),
        held=frozenset(confused_labels(session=session)),
        doubtful=frozenset(stored.get(DOUBTFUL_REVIEWERS) or ()),
        accuracy={str(k): float(v) for k, v in (stored.get(REVIEWER_ACCURACY) or {}).items()},
        encoder=settings.sentence_encoder,
    )


# The people whose answers always get a second opinion, as the last retraining estimated.
DOUBTFUL_REVIEWERS = "doubtful_reviewers"
# Per person, the accuracy of their recent answers, as the last retraining estimated it.
REVIEWER_ACCURACY = "reviewer_accuracy"
# Set by `/triage retrain` (and the App Home button); the worker's retraining job consumes it.
RETRAIN_REQUESTED = "retrain_requested"
