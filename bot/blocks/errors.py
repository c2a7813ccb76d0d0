"""How an error of the family reads in Slack: the one translation every listener uses."""

from __future__ import annotations

from bot.blocks.text import escape
from bot.errors import NotAdmin, TriageError

UNEXPECTED = "Something went wrong on our side; the team has the details in the logs."


def error_text(error: TriageError) -> str:
    """The reason as mrkdwn (escaped: reasons are plain words); admins named as mentions."""
    if isinstance(error, NotAdmin):
        whom = [f"<@{admin}>" for admin in error.admins]
        if error.group:
            whom.append(f"<!subteam^{error.group}>")
        ask = ", ".join(whom) or "your Slack admin"
        return f"Only triage admins can {escape(error.what)}. Ask {ask}."
    return escape(error.reason)
