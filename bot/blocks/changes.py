"""An admin change in words: the admin's confirmation and the alerts-channel announcement."""

from __future__ import annotations

from typing import Any

from bot.blocks.commands import SLACK, text_message
from bot.blocks.text import Marks, escape
from bot.services.actors import command_line_operator
from bot.services.admin import AdminChange, ChangeKind
from bot.words import counted


def _share(value: float | None) -> str:
    return "the model's tuned thresholds" if value is None else f"{value:.2f}"


def _version(value: int | None) -> str:
    return "none" if value is None else f"v{value}"


def change_summary(change: AdminChange, marks: Marks = SLACK) -> str:
    """One sentence saying what the change did (or that things already were so)."""
    before, after, name = change.before, change.after, marks.name(change.subject or "")
    match change.kind:
        case ChangeKind.THRESHOLD:
            target = "all labels" if after is not None else "every label"
            return f"Threshold for {target} set to {_share(after)} (was {_share(before)})."
        case ChangeKind.LABEL_THRESHOLD:
            return f"Threshold for {name} set to {_share(after)} (was {_share(before)})."
        case ChangeKind.TARGET_PRECISION:
            return (
                f"Target precision set to {after:.1%} (was {before:.1%}); "
                "the next retraining tunes thresholds for it."
            )
        case ChangeKind.AUDIT_RATE:
            return f"Audit rate set to {after:.1%} of automatic tickets (was {before:.1%})."
        case ChangeKind.CONFIDENCE_FLOOR:
            return (
                f"Confidence floor set to {after:.0%} (was {before:.0%}): no ticket is labelled "
                "automatically below it, whatever its label's threshold."
            )
        case ChangeKind.TOPIC_LABEL_CREATED:
            return (
                f"Label {name} created from new topic #{before}; {after} of its tickets "
                "re-asked with it offered first."
            )
        case ChangeKind.TOPIC_DISMISSED:
            return (
                f"Suggested label {name} (topic #{before}) dismissed: similar tickets are no "
                "longer sent to people for resembling it."
            )
        case ChangeKind.CALLBACKS_RETRIED:
            whose = "" if change.subject is None else f" of ticket #{change.subject}"
            if not change.changed:
                return f"No helpdesk callback{whose} was given up."
            return (
                f"{counted(after, 'given-up helpdesk callback')}{whose} queued again, "
                "their attempts counted afresh."
            )
        case ChangeKind.QUORUM:
            return f"Quorum set to {after} matching answer(s) (was {before})."
        case ChangeKind.PAUSED if not change.changed:
            return f"Automatic labelling is {'already paused' if after else 'not paused'}."
        case ChangeKind.PAUSED:
            if after:
                return "Automatic labelling paused: every ticket now goes to review."
            return "Automatic labelling resumed."
        case ChangeKind.RETRAIN:
            return "Retraining requested."
        case ChangeKind.LABEL_ADDED:
            return f"Label {name} added."
        case ChangeKind.LABEL_RESTORED:
            return f"Label {name} brought back from retirement."
        case ChangeKind.LABEL_RENAMED:
            return (
                f"Label {marks.name(str(before))} renamed to {marks.name(str(after))}, "
                "in history too; "
                "the model's suggestions use the new name from the next ticket."
            )
        case ChangeKind.LABEL_RETIRED:
            return (
                f"Label {name} retired: people can no longer pick it, tickets the model "
                "still gives it go to review, and retraining leaves it out."
            )
        case ChangeKind.LABEL_ROUTED if not change.changed:
            return f"Label {name} already goes to {marks.channel(str(after))}."
        case ChangeKind.LABEL_ROUTED:
            return f"Tickets labelled {name} now go to {marks.channel(str(after))}."
        case ChangeKind.MODEL_ACTIVATED if not change.changed:
            return f"Model {_version(after)} is already active."
        case ChangeKind.MODEL_ACTIVATED:
            return f"Model {_version(after)} is now active (was {_version(before)})."


def change_confirmation(
    change: AdminChange, *, alerts_channel: str | None, marks: Marks = SLACK
) -> str:
    """The admin's own confirmation, saying where the change was announced."""
    summary = change_summary(change, marks)
    if not change.changed:
        return f"{summary} Nothing changed."
    if change.announced and alerts_channel:
        return f"{summary} Announced in {marks.channel(alerts_channel)}."
    return f"{summary} (No alerts channel is set, so it was not announced.)"


def change_reply(change: AdminChange, *, alerts_channel: str | None) -> dict[str, Any]:
    """The confirmation as the ephemeral answer to `/triage`."""
    return text_message(change_confirmation(change, alerts_channel=alerts_channel))


def build_announcement(change: AdminChange, *, actor: str) -> dict[str, Any]:
    """The alerts-channel post for an admin change: what happened, by whom, and where from
    (`/triage` and App Home, or the `triage` command line)."""
    summary = change_summary(change)
    operator = command_line_operator(actor)
    if operator is None:
        who, surface = f"<@{actor}>", "with /triage"
    else:
        who, surface = escape(operator), "on the `triage` command line"
    return {
        "text": f"{summary} (by {who})",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"ℹ️  {summary}"}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Changed by {who} {surface}"}],
            },
        ],
    }
