"""The short private replies a person gets after clicking, when the message itself can't say it."""

from __future__ import annotations

from bot.blocks.text import escape, person
from bot.services.answers import AnswerOutcome, AnswerStatus

NO_LABEL = "none of these"


def answer_reply(outcome: AnswerOutcome) -> str | None:
    """The ephemeral text for an outcome, or None when the updated message says enough."""
    label = NO_LABEL if outcome.label is None else escape(outcome.label)
    match outcome.status:
        case AnswerStatus.ALREADY_DECIDED:
            by = person(outcome.decided_by) if outcome.decided_by else "the model"
            return f"Already labelled *{label}* by {by}."
        case AnswerStatus.DUPLICATE:
            return "You have already answered this ticket."
        case AnswerStatus.RECORDED:
            return f"Thanks: your answer *{label}* is counted; more people need to agree."
        case AnswerStatus.SECOND_OPINION if outcome.audit:
            return (
                f"Thanks: your answer *{label}* is counted. Someone else is asked too; the "
                "automatic label stands until it is settled."
            )
        case AnswerStatus.SECOND_OPINION:
            return (
                f"Thanks: your answer *{label}* is counted. Someone else is asked too before "
                "the ticket is routed."
            )
        case AnswerStatus.NEEDS_ADMIN:
            return "Three answers disagree on this ticket: only an admin can settle it now."
        case AnswerStatus.NOT_FOUND:
            return "This ticket no longer exists or has nothing to undo."
        case AnswerStatus.UNKNOWN_LABEL:
            return f"The label *{label}* is not active any more; pick another one."
        case AnswerStatus.NOT_YOURS:
            who = person(outcome.decided_by or "")
            return f"Only {who}, who chose *{label}*, can undo it."
        case AnswerStatus.TOO_LATE:
            return "Undo is only possible for 5 minutes after choosing."
    return None


def modal_error(outcome: AnswerOutcome) -> str:
    """Why a modal answer was not counted, in the plain text Slack shows under a field."""
    match outcome.status:
        case AnswerStatus.ALREADY_DECIDED:
            return "This ticket was settled meanwhile; its message shows how."
        case AnswerStatus.DUPLICATE:
            return "You have already answered this ticket."
        case AnswerStatus.NEEDS_ADMIN:
            return "Three answers disagree on this ticket: only an admin can settle it now."
        case AnswerStatus.NOT_FOUND:
            return "This ticket no longer exists."
    return "This answer could not be counted."
