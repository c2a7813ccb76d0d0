"""The exception family every surface translates once: CLI line, HTTP 4xx JSON, Slack ephemeral."""

from __future__ import annotations


class TriageError(Exception):
    """An error whose message is safe and useful to show the person who caused it."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SettingsError(TriageError):
    """A configuration value is missing or malformed; start-up must stop."""


class InvalidInput(TriageError):
    """The caller sent something we cannot accept (file, field, argument)."""

    status = 422


class NotFound(TriageError):
    """The thing asked for does not exist."""

    status = 404


class Forbidden(TriageError):
    """The caller may not do this."""

    status = 403
