"""Exceptions raised by the classifier package."""

from __future__ import annotations


class ClassifierError(Exception):
    """Signal a problem whose message can be shown to an admin as-is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ModelIntegrityError(ClassifierError):
    """Refuse a stored model that was altered or contains unexpected code."""
