"""The bot's errors, in the one family every surface translates once (`TriageError`'s).

Each names the HTTP status the API answers it with; a reason is plain words (never Slack
markup), which the Slack surface escapes and the CLI prints as it is.
"""

from __future__ import annotations

from classifier.errors import TriageError

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotAdmin",
    "NotFound",
    "SettingsError",
    "TriageError",
]


class SettingsError(TriageError):
    """A configuration value is missing or malformed; start-up must stop."""

    status = 400


class InvalidInput(TriageError):
    """The caller sent something we cannot accept (file, field, argument); `field` names the
    offending field when there is one, so the API can say it in a member of its own."""

    status = 422

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


class NotFound(TriageError):
    """The thing asked for does not exist."""

    status = 404


class Conflict(TriageError):
    """The request contradicts the current state (a ticket someone already decided);
    `members` carries that state, so the caller can act on it without asking again."""

    status = 409

    def __init__(self, reason: str, *, members: dict[str, object] | None = None) -> None:
        super().__init__(reason)
        self.members = dict(members or {})


class Forbidden(TriageError):
    """The caller may not do this."""

    status = 403


class NotAdmin(Forbidden):
    """Only admins may do `what`; carries who to ask, so Slack can show them as mentions."""

    def __init__(self, what: str, *, admins: tuple[str, ...], group: str | None) -> None:
        ask = ", ".join([*admins, *([group] if group else [])]) or "your Slack admin"
        super().__init__(f"Only triage admins can {what}. Ask {ask}.")
        self.what, self.admins, self.group = what, admins, group
