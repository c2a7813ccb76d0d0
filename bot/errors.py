"""The bot's errors, in the one family every surface translates once (`TriageError`'s).

Each names the HTTP status the API answers it with; a reason is plain words (never Slack
markup), which the Slack surface escapes and the CLI prints as it is.
"""

from __future__ import annotations

from classifier.errors import TriageError

__all__ = ["Forbidden", "InvalidInput", "NotAdmin", "NotFound", "SettingsError", "TriageError"]


class SettingsError(TriageError):
    """A configuration value is missing or malformed; start-up must stop."""

    status = 400


class InvalidInput(TriageError):
    """The caller sent something we cannot accept (file, field, argument)."""

    status = 422


class NotFound(TriageError):
    """The thing asked for does not exist."""

    status = 404


class Forbidden(TriageError):
    """The caller may not do this."""

    status = 403


class NotAdmin(Forbidden):
    """Only admins may do `what`; carries who to ask, so Slack can show them as mentions."""

    def __init__(self, what: str, *, admins: tuple[str, ...], group: str | None) -> None:
        ask = ", ".join([*admins, *([group] if group else [])]) or "your Slack admin"
        super().__init__(f"Only triage admins can {what}. Ask {ask}.")
        self.what, self.admins, self.group = what, admins, group
