"""Storage errors with messages meant for the person running the service."""

from __future__ import annotations


class StorageError(Exception):
    """A storage problem the operator can fix; the message says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SchemaNotCurrent(StorageError):
    """The database needs `triage db upgrade` before the service can use it."""
