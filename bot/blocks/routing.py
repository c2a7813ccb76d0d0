"""Messages about a labelled ticket: the route-channel post and the reply to an intake message."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.blocks.text import TEXT_REMOVED, escape, person, quote
from bot.words import percent
from classifier import Decision
from storage.models import TicketStatus


class LabelledTicket(Protocol):
    """The ticket fields these messages read (a storage row satisfies it)."""

    id: int
    text: str
    source: str
    status: TicketStatus
    decision: Decision | None
    final_label: str | None
    confidence: float | None
    decided_by: str | None
    erased_at: datetime | None


def _who(ticket: LabelledTicket) -> str:
    if ticket.decided_by:
        return f"by {person(ticket.decided_by)}"
    confidence = "" if ticket.confidence is None else f" ({percent(ticket.confidence)})"
    return f"automatically{confidence}"


def build_route_message(ticket: LabelledTicket) -> dict[str, Any]:
    """Post a labelled ticket to its label's channel, where the team handling it works."""
    label = escape(ticket.final_label or "")
    line = f"🏷️  Ticket #{ticket.id} · {escape(ticket.source)} · *{label}* {_who(ticket)}"
    text = TEXT_REMOVED if ticket.erased_at is not None else quote(ticket.text)
    return {
        "text": f"Ticket #{ticket.id} labelled {ticket.final_label}",
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ],
    }


def build_intake_reply(ticket: LabelledTicket, *, review_channel: str | None) -> dict[str, Any]:
    """Tell the person who posted in the intake channel what happened to their message."""
    automatic = ticket.decision in (Decision.AUTO, Decision.AUDIT)
    if ticket.final_label and automatic and not ticket.decided_by:
        text = f"Ticket #{ticket.id}: labelled *{escape(ticket.final_label)}* {_who(ticket)}."
    else:
        where = f" in <#{review_channel}>" if review_channel else ""
        text = f"Ticket #{ticket.id}: a person will pick the label{where}."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def build_intake_outcome(ticket: LabelledTicket) -> dict[str, Any]:
    """Tell the intake thread the label a person chose (the first reply said one would)."""
    if ticket.status == TicketStatus.NO_LABEL:
        text = (
            f"Ticket #{ticket.id}: none of the labels fits, said {person(ticket.decided_by or '')}."
        )
    else:
        text = f"Ticket #{ticket.id}: labelled *{escape(ticket.final_label or '')}* {_who(ticket)}."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def build_undone_notice(ticket: LabelledTicket, *, label: str, by: str) -> dict[str, Any]:
    """What a route post or an intake-thread outcome becomes when its label is undone."""
    if ticket.status == TicketStatus.PENDING:
        after = "it is waiting for a label again"
    elif ticket.status == TicketStatus.NO_LABEL:
        after = "no label fits it now"
    else:  # an audit answer undone: the model's label is back
        after = f"the automatic label *{escape(ticket.final_label or '')}* stands"
    line = f"↩️  Ticket #{ticket.id}: ~{escape(label)}~ was undone by {person(by)}; {after}."
    return {
        "text": f"Ticket #{ticket.id}: the label {label} was undone",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}],
    }
