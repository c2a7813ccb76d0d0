"""Storage errors with messages meant for the person running the service."""

from __future__ import annotations

from classifier.errors import TriageError


class StorageError(TriageError):
    """A storage problem the operator can fix; the message says how."""


class SchemaNotCurrent(StorageError):
    """The database needs `triage db upgrade` before the service can use it."""
