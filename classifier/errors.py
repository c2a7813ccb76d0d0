"""The root of every error the service explains to a person, and the classifier's own errors.

`TriageError` lives here, in the innermost package: every other layer may import it and it
imports none of them, so classifier, storage and bot errors share one root that each surface
translates once (a CLI line, a JSON body, a Slack ephemeral message, an ops alert).
"""

from __future__ import annotations


class TriageError(Exception):
    """An error whose `reason` is safe and useful to show the person who will read it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClassifierError(TriageError):
    """A problem with training data, settings or a model, in words an admin can act on."""


class ModelIntegrityError(ClassifierError):
    """Refuse a stored model that was altered or contains unexpected code."""
