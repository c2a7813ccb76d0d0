"""Ticket classification: calibrated predictions, guaranteed-precision thresholds, routing.

Names are imported lazily so that ``import classifier`` (e.g. for ``mask_sensitive`` or
``decide``) does not load scikit-learn, spaCy or WordLlama until they are needed.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classifier.calibration import expected_calibration_error
    from classifier.decision import Decision, decide
    from classifier.embeddings import embed
    from classifier.errors import ClassifierError, ModelIntegrityError, TriageError
    from classifier.evaluation import Metrics, evaluate, metrics_from_predictions
    from classifier.intervals import wilson_interval
    from classifier.label_noise import Screening, screen_labels
    from classifier.masking import mask_sensitive
    from classifier.model import TicketClassifier
    from classifier.persistence import dump_model, load_model, sha256_hex
    from classifier.reliability import Reliability, estimate_reliability
    from classifier.text import build_nlp
    from classifier.thresholds import Thresholds, choose_thresholds
    from classifier.training import TrainedModel, refit, train

_EXPORTS = MappingProxyType(
    {
        "expected_calibration_error": "classifier.calibration",
        "Decision": "classifier.decision",
        "decide": "classifier.decision",
        "ClassifierError": "classifier.errors",
        "ModelIntegrityError": "classifier.errors",
        "TriageError": "classifier.errors",
        "embed": "classifier.embeddings",
        "Metrics": "classifier.evaluation",
        "evaluate": "classifier.evaluation",
        "metrics_from_predictions": "classifier.evaluation",
        "wilson_interval": "classifier.intervals",
        "Screening": "classifier.label_noise",
        "screen_labels": "classifier.label_noise",
        "Reliability": "classifier.reliability",
        "estimate_reliability": "classifier.reliability",
        "TicketClassifier": "classifier.model",
        "dump_model": "classifier.persistence",
        "load_model": "classifier.persistence",
        "sha256_hex": "classifier.persistence",
        "build_nlp": "classifier.text",
        "mask_sensitive": "classifier.masking",
        "Thresholds": "classifier.thresholds",
        "choose_thresholds": "classifier.thresholds",
        "TrainedModel": "classifier.training",
        "refit": "classifier.training",
        "train": "classifier.training",
    }
)

__all__ = [
    "ClassifierError",
    "Decision",
    "Metrics",
    "ModelIntegrityError",
    "Reliability",
    "Screening",
    "Thresholds",
    "TicketClassifier",
    "TrainedModel",
    "TriageError",
    "build_nlp",
    "choose_thresholds",
    "decide",
    "dump_model",
    "embed",
    "estimate_reliability",
    "evaluate",
    "expected_calibration_error",
    "load_model",
    "mask_sensitive",
    "metrics_from_predictions",
    "refit",
    "screen_labels",
    "sha256_hex",
    "train",
    "wilson_interval",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use, keeping ``import classifier`` cheap."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    """List the public names, including the not-yet-imported ones."""
    return list(__all__)
